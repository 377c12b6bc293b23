# The metrics adapter's pid file and the check that a pid is ours. Sourced after lib.sh.
# shellcheck shell=bash
ADAPTER_PID_FILE="$STATE_DIR/pids/prometheus-adapter.pid"

# adapter_pid: prints the pid when the pid file names a live prometheus-adapter started for this state dir.
adapter_pid() {
  local pid exe
  [ -f "$ADAPTER_PID_FILE" ] || return 1
  pid=$(<"$ADAPTER_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe##*/}" = prometheus-adapter ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR/metrics-adapter/" || return 1
  echo "$pid"
}
