#!/usr/bin/env bash
# Stops the LeaderWorkerSet controller started by start.sh (only the process its pid file names, when it is
# ours). Its objects in the API server go with the test bed's etcd. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../procs.sh
source "$TESTBED_DIR/procs.sh"
source "$TESTBED_DIR/lws/procs.sh"

if pid=$(lws_pid); then
  echo "lws: stopping the LeaderWorkerSet controller (pid $pid)"
  stop_pid "lws: the controller" "$pid"
fi
rm -f "$LWS_PID_FILE"
