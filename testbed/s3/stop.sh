#!/usr/bin/env bash
# Stops the S3 store started by start.sh (only the process its pid file names, when it is ours). Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../procs.sh
source "$TESTBED_DIR/procs.sh"
source "$TESTBED_DIR/s3/procs.sh"

if pid=$(s3_pid); then
  echo "s3: stopping weed (pid $pid)"
  stop_pid "s3: weed" "$pid"
fi
rm -f "$S3_PID_FILE" "$STATE_DIR/s3/endpoint"
