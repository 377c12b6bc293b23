#!/usr/bin/env bash
# Stops the Hub mirror started by start.sh (only the process its pid file names, when it is ours). Keeps the
# access log and the log; down.sh removes the state dir. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/hub/procs.sh"

if pid=$(hub_pid); then
  echo "hub: stopping olah (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # Gone, or exited and not yet reaped (a zombie), counts as stopped.
  alive() { [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; }
  for _ in $(seq 100); do
    alive || break
    sleep 0.1
  done
  if alive; then
    echo "hub: olah did not stop in 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$HUB_PID_FILE" "$STATE_DIR/hub/endpoint"
