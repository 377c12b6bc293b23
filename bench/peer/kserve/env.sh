# Where the KServe peer is built and how it runs. Sourced after testbed/lib.sh.
# shellcheck shell=bash
PEER_DIR=$REPO_DIR/bench/peer/kserve
kserve_key() { cat "$PEER_DIR/tools/go.mod" "$PEER_DIR/tools/go.sum" | sha256sum | cut -c1-12; }
KSERVE_CACHE="$CACHE_ROOT/peers/kserve-$(kserve_key)"  # bin/kserve-manager, charts/ (the release's own charts)
KSERVE_NAMESPACE=kserve  # the manager's POD_NAMESPACE, where it reads inferenceservice-config (pkg/constants, v0.15.0)
KSERVE_PID_FILE="$STATE_DIR/pids/kserve-manager.pid"
KSERVE_WEBHOOK_PORT=${BENCH_KSERVE_WEBHOOK_PORT:-29443}  # on the host's address on the pods' bridge
KSERVE_PROBE_PORT=${BENCH_KSERVE_PROBE_PORT:-29081}

# kserve_pid: prints the manager's pid when the pid file names a live kserve-manager of this state dir.
kserve_pid() {
  local pid exe
  [ -f "$KSERVE_PID_FILE" ] || return 1
  pid=$(<"$KSERVE_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe##*/}" = kserve-manager ] || return 1
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF -- "KUBECONFIG=$STATE_DIR/run/kserve-kubeconfig" || return 1
  echo "$pid"
}
