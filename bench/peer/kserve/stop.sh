#!/usr/bin/env bash
# Stops the KServe peer started by start.sh (SIGTERM, then SIGKILL after 10 s); its objects stay in the API.
set -euo pipefail
source "$(dirname "$0")/../../../testbed/lib.sh"
source "$TESTBED_DIR/procs.sh"
source "$(dirname "$0")/env.sh"
if pid=$(kserve_pid); then stop_pid kserve-manager "$pid"; fi
rm -f "$KSERVE_PID_FILE"
