# Prometheus's pid file and the check that a pid is ours. Sourced after lib.sh.
# shellcheck shell=bash
PROMETHEUS_PID_FILE="$STATE_DIR/pids/prometheus.pid"

# prometheus_pid: prints the pid when the pid file names a live prometheus started for this state dir.
prometheus_pid() {
  local pid exe
  [ -f "$PROMETHEUS_PID_FILE" ] || return 1
  pid=$(<"$PROMETHEUS_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe##*/}" = prometheus ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR/prometheus/prometheus.yml" || return 1
  echo "$pid"
}
