#!/usr/bin/env bash
# Stops the Prometheus started by start.sh (only the process its pid file names, when it is ours); its data
# stays in $STATE_DIR/prometheus until down.sh clears the state dir. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../procs.sh
source "$TESTBED_DIR/procs.sh"
source "$TESTBED_DIR/prometheus/procs.sh"

if pid=$(prometheus_pid); then
  echo "prometheus: stopping (pid $pid)"
  stop_pid "prometheus:" "$pid"
fi
rm -f "$PROMETHEUS_PID_FILE" "$STATE_DIR/prometheus/endpoint"
