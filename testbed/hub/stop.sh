#!/usr/bin/env bash
# Stops the Hub mirror started by start.sh (only the process its pid file names, when it is ours). Keeps the
# access log and the log; down.sh removes the state dir. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../procs.sh
source "$TESTBED_DIR/procs.sh"
source "$TESTBED_DIR/hub/procs.sh"

if pid=$(hub_pid); then
  echo "hub: stopping olah (pid $pid)"
  stop_pid "hub: olah" "$pid"
fi
rm -f "$HUB_PID_FILE" "$STATE_DIR/hub/endpoint"
