# The LeaderWorkerSet controller's pid file and the check that a pid is ours. Sourced after lib.sh.
# shellcheck shell=bash
LWS_PID_FILE="$STATE_DIR/pids/lws-controller.pid"
LWS_NAMESPACE=lws-system  # the release's namespace (its default when not run in a pod: pkg/utils at v0.7.0)

# lws_pid: prints the controller's pid when the pid file names a live lws-controller started for this state dir.
lws_pid() {
  local pid exe
  [ -f "$LWS_PID_FILE" ] || return 1
  pid=$(<"$LWS_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe##*/}" = lws-controller ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR/run/lws-config.yaml" || return 1
  echo "$pid"
}
