#!/usr/bin/env bash
# The e2e tier of `make test`, in three lanes on one shared test bed (tests/e2e/conftest.py assigns each module its
# lane):
#   engine  the real-engine tests (vLLM's CPU build on the process nodes): CPU-bound, most of the tier's time
#   kwok    the tests on simulated nodes and private test beds: mostly waiting on the control plane
#   alone   the tests that change what every namespace sees (CRDs, an operator watching every namespace)
# engine and kwok run at the same time, each a pytest session with its own operator and namespace prefix (the
# sessions never reconcile each other's resources); alone runs after both, by itself. Each lane's output goes to
# .e2e-logs/<lane>.log and is printed when the lane ends. Every lane runs even when another fails; any failing
# fails the tier. pytest's exit code 5 (no test collected) is a failure too.
# Extra arguments go to every lane's pytest (e.g. -x, -k).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
logs=.e2e-logs
rm -rf "$logs"
mkdir -p "$logs"
# The lanes share the bed: no session stops it (conftest.py); this script does, in CI, once all are done.
export TESTBED_KEEP_UP=1
# The lanes' sessions give out listening ports from one registry (tests/support/cluster.py free_port).
export INFOP_TEST_PORTS_DIR="$PWD/$logs/ports"
start=$SECONDS

s=$SECONDS
# Up (or the cluster in KUBECONFIG), and the CRDs applied and served before either lane's operator starts
# watching: what each session's `cluster` fixture does, done once first (conftest.connect).
if ! $BIN/python -c 'from tests.e2e.conftest import connect; connect()' >"$logs/up.log" 2>&1; then
  cat "$logs/up.log"
  echo "test: e2e tier: the test bed did not start"
  exit 1
fi
echo "test: e2e: test bed up and the CRDs served in $((SECONDS - s))s"

lane() {
  local name=$1 t=$SECONDS rc
  shift
  # A base temp directory of its own: pytest numbers and prunes its default one, which two sessions would share.
  $BIN/pytest -m "e2e and lane_$name" --durations=25 --basetemp="$logs/tmp-$name" "$@" tests >"$logs/$name.log" 2>&1
  rc=$?
  echo "test: e2e lane $name: exit $rc in $((SECONDS - t))s" >>"$logs/$name.log"
  return $rc
}

code=0
lane engine "$@" &
engine=$!
lane kwok "$@" || code=1
cat "$logs/kwok.log"
wait "$engine" || code=1
cat "$logs/engine.log"
lane alone "$@" || code=1
cat "$logs/alone.log"

if [ -n "${CI:-}" ] && [ -z "${KUBECONFIG:-}" ]; then  # another cluster, given by KUBECONFIG, is not ours to stop
  bash testbed/down.sh >/dev/null 2>&1 || echo "test: e2e: testbed/down.sh failed"
fi
echo "test: e2e tier: exit $code in $((SECONDS - start))s"
exit $code
