#!/usr/bin/env bash
# Stops the Prometheus started by start.sh (only the process its pid file names, when it is ours); its data
# stays in $STATE_DIR/prometheus until down.sh clears the state dir. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/prometheus/procs.sh"

if pid=$(prometheus_pid); then
  echo "prometheus: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # Gone, or exited and not yet reaped (a zombie), counts as stopped.
  alive() { [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; }
  for _ in $(seq 100); do
    alive || break
    sleep 0.1
  done
  if alive; then
    echo "prometheus: did not stop in 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$PROMETHEUS_PID_FILE" "$STATE_DIR/prometheus/endpoint"
