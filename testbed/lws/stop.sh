#!/usr/bin/env bash
# Stops the LeaderWorkerSet controller started by start.sh (only the process its pid file names, when it is
# ours). Its objects in the API server go with the test bed's etcd. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/lws/procs.sh"

if pid=$(lws_pid); then
  echo "lws: stopping the LeaderWorkerSet controller (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  alive() { [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; }
  for _ in $(seq 100); do
    alive || break
    sleep 0.1
  done
  if alive; then
    echo "lws: the controller did not stop in 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$LWS_PID_FILE"
