# The Hub mirror's pid file and the check that a pid is ours. Sourced after lib.sh.
# shellcheck shell=bash
HUB_PID_FILE="$STATE_DIR/pids/hub.pid"

# hub_pid: prints the mirror's pid when the pid file names a live serve.py started for this state dir.
hub_pid() {
  local pid
  [ -f "$HUB_PID_FILE" ] || return 1
  pid=$(<"$HUB_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$TESTBED_DIR/hub/serve.py" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR/run/hub.toml" || return 1
  echo "$pid"
}
