# Shared by the test bed's scripts: where things are, and the cache key of the pinned versions.
# shellcheck shell=bash
TESTBED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TESTBED_DIR/.." && pwd)
# shellcheck source=versions.env
source "$TESTBED_DIR/versions.env"
# The control plane's modules, listed (not globbed) so that adding a checker module leaves this key alone.
CONTROL_PLANE_MODULES="etcd helm kubernetes kwok"
# The checkers (kstatus, argolua, kube-score): small and quick to build, keyed by their own modules and sources.
CHECK_MODULES="argolua kstatus kube-score"
testbed_key() {
  local m
  { cat "$TESTBED_DIR/versions.env"; for m in $CONTROL_PLANE_MODULES; do cat "$TESTBED_DIR/tools/$m/go.sum"; done; } \
    | sha256sum | cut -c1-12
}
checks_key() {
  local m
  for m in $CHECK_MODULES; do cat "$TESTBED_DIR/tools/$m"/go.mod "$TESTBED_DIR/tools/$m"/go.sum "$TESTBED_DIR/tools/$m"/*.go; done \
    | sha256sum | cut -c1-12
}
# The LeaderWorkerSet controller (tools/lws): keyed by its own module, so adding it left the control plane's key
# (and its six-minute build) alone.
lws_key() { cat "$TESTBED_DIR/tools/lws/go.mod" "$TESTBED_DIR/tools/lws/go.sum" | sha256sum | cut -c1-12; }
CACHE_ROOT=${INFERENCE_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inference-operator}
TESTBED_CACHE=$CACHE_ROOT/testbed
TESTBED_BIN="$TESTBED_CACHE/$(testbed_key)/bin"
CHECKS_BIN="$TESTBED_CACHE/checks-$(checks_key)/bin"
# The custom metrics API server the HPA reads (sigs.k8s.io/prometheus-adapter): keyed by its own module, so a
# bump of it rebuilds only it, and the control plane's key stays as it was.
ADAPTER_KEY=$(cat "$TESTBED_DIR/tools/prometheus-adapter/go.mod" "$TESTBED_DIR/tools/prometheus-adapter/go.sum" |
  sha256sum | cut -c1-12)
ADAPTER_BIN="$TESTBED_CACHE/adapter-$ADAPTER_KEY/bin"
LWS_CACHE="$TESTBED_CACHE/lws-$(lws_key)"  # bin/lws-controller and chart/ (the release's own Helm chart)
STATE_DIR=${TESTBED_STATE_DIR:-$REPO_DIR/.testbed}
ENGINE_CACHE=$CACHE_ROOT/engines
# A tool's venv of its own under the shared cache, made once: `install_locked_venv LABEL WHAT VENV FILL`, where
# FILL is a function of the caller that installs into the (new, empty) venv it is given and checks it. Idempotent
# and locked against a concurrent run; a failed run leaves no .complete and the next run starts from scratch.
# The lock stays held (fd 8) until the calling script exits.
install_locked_venv() {
  local label=$1 what=$2 venv=$3 fill=$4 start
  if [ -f "$venv/.complete" ]; then
    echo "$label: $what already installed"
    return 0
  fi
  mkdir -p "${venv%/*}"
  exec 8>"$venv.lock"
  flock -w 900 8 || { echo "$label: another install of $what holds $venv.lock" >&2; return 1; }
  [ -f "$venv/.complete" ] && return 0
  start=$SECONDS
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$fill" "$venv"
  touch "$venv/.complete"
  echo "$label: $what installed in $((SECONDS - start))s ($(du -sh "$venv" | cut -f1))"
}
