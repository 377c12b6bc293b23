# Shared by the test bed's scripts: where things are, and the cache key of the pinned versions.
# shellcheck shell=bash
TESTBED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TESTBED_DIR/.." && pwd)
# shellcheck source=versions.env
source "$TESTBED_DIR/versions.env"
testbed_key() {
  cat "$TESTBED_DIR/versions.env" "$TESTBED_DIR"/tools/*/go.sum | sha256sum | cut -c1-12
}
CACHE_ROOT=${INFERENCE_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inference-operator}
TESTBED_CACHE=$CACHE_ROOT/testbed
TESTBED_BIN="$TESTBED_CACHE/$(testbed_key)/bin"
STATE_DIR=${TESTBED_STATE_DIR:-$REPO_DIR/.testbed}
ENGINE_CACHE=$CACHE_ROOT/engines
