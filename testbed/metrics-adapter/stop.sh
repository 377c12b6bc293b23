#!/usr/bin/env bash
# Stops the metrics adapter started by start.sh (only the process its pid file names, when it is ours). The
# APIService and its Service go with the test bed's etcd. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../procs.sh
source "$TESTBED_DIR/procs.sh"
source "$TESTBED_DIR/metrics-adapter/procs.sh"

if pid=$(adapter_pid); then
  echo "metrics-adapter: stopping (pid $pid)"
  stop_pid "metrics-adapter:" "$pid"
fi
rm -f "$ADAPTER_PID_FILE"
