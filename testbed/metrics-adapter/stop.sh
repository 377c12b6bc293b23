#!/usr/bin/env bash
# Stops the metrics adapter started by start.sh (only the process its pid file names, when it is ours). The
# APIService and its Service go with the test bed's etcd. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/metrics-adapter/procs.sh"

if pid=$(adapter_pid); then
  echo "metrics-adapter: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  alive() { [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; }
  for _ in $(seq 100); do
    alive || break
    sleep 0.1
  done
  if alive; then
    echo "metrics-adapter: did not stop in 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$ADAPTER_PID_FILE"
