#!/usr/bin/env bash
# Stops, starts, freezes or thaws one component of a running test bed, for chaos tests:
#   testbed/component.sh stop|start|freeze|thaw NAME      (NAME: etcd, kube-apiserver, kube-controller-manager,
#                                                          kube-scheduler or kwok)
# stop: SIGTERM (SIGKILL after 10 s), as a crashed or restarted process; its connections close.
# start: starts it again with the command line up.sh gave it (recorded in $STATE_DIR/run/NAME.args).
# freeze: SIGSTOP, as a hung process; its connections stay open and answer nothing. thaw: SIGCONT.
# Works on the test bed of $TESTBED_STATE_DIR (default .testbed), like up.sh and down.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=procs.sh
source "$TESTBED_DIR/procs.sh"

usage() { echo "usage: testbed/component.sh stop|start|freeze|thaw ${TESTBED_COMPONENTS[*]// /|}" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
name=$2
known=0
for c in "${TESTBED_COMPONENTS[@]}"; do [ "$c" = "$name" ] && known=1; done
[ $known -eq 1 ] || usage
lock_testbed

case $action in
  stop)
    our_pid "$name" >/dev/null || { echo "testbed: $name is not running" >&2; exit 1; }
    kill -CONT "$(our_pid "$name")" 2>/dev/null || true  # a frozen process cannot act on SIGTERM
    stop_component "$name"
    ;;
  start)
    if our_pid "$name" >/dev/null; then
      echo "testbed: $name is already running"
      exit 0
    fi
    args_file=$(args_file "$name")
    [ -f "$args_file" ] || { echo "testbed: no recorded command line for $name; run up.sh" >&2; exit 1; }
    mapfile -d '' args <"$args_file"
    # kwok reads its work dir from the environment (up.sh keeps a user's ~/.kwok out of the test bed).
    if [ "$name" = kwok ]; then
      KWOK_WORKDIR="$STATE_DIR/run/kwok" start_component "$name" "${args[@]}"
    else
      start_component "$name" "${args[@]}"
    fi
    echo "testbed: started $name (pid $(our_pid "$name"))"
    ;;
  freeze | thaw)
    pid=$(our_pid "$name") || { echo "testbed: $name is not running" >&2; exit 1; }
    if [ "$action" = freeze ]; then
      kill -STOP "$pid"
      echo "testbed: froze $name (pid $pid)"
    else
      kill -CONT "$pid"
      echo "testbed: thawed $name (pid $pid)"
    fi
    ;;
  *) usage ;;
esac
