#!/usr/bin/env bash
# Everything `make test` needs before its first test, built or installed once and cached (a second run finds it
# all in seconds): the test bed's Go binaries and checkers, Prometheus with Kubernetes discovery, vLLM's CPU
# build, the generated model, the Hub mirror and nvidia-modelopt. The downloads (pip: network and disk) run beside the Go builds
# (CPU), which on a fresh 2-core machine saves the length of the shorter of the two.
# Prints how long each stage took, for CI's log. Logs of the parallel stage: .testbed-prepare/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=.testbed-prepare
mkdir -p "$logs"
stamp() { date +%s; }
t0=$(stamp)

bash testbed/engine/install.sh >"$logs/engine.log" 2>&1 &
engine_pid=$!
bash testbed/hub/install.sh >"$logs/hub.log" 2>&1 &
hub_pid=$!
bash testbed/s3/install.sh >"$logs/s3.log" 2>&1 &
s3_pid=$!

s=$(stamp)
bash testbed/build.sh
echo "prepare: test-bed build (control plane, kwok, helm, checkers): $(($(stamp) - s))s"
s=$(stamp)
bash testbed/prometheus/build.sh
echo "prepare: Prometheus build: $(($(stamp) - s))s"

failed=0
for stage in engine:$engine_pid hub:$hub_pid s3:$s3_pid; do
  name=${stage%%:*}
  s=$(stamp)
  if wait "${stage#*:}"; then
    tail -n 1 "$logs/$name.log"
  else
    echo "prepare: the $name install failed; the end of $logs/$name.log:" >&2
    tail -n 30 "$logs/$name.log" >&2
    failed=1
  fi
  echo "prepare: waited $(($(stamp) - s))s more for the $name install"
done
[ "$failed" -eq 0 ] || exit 1
s=$(stamp)
bash testbed/model/build.sh
echo "prepare: model: $(($(stamp) - s))s"
s=$(stamp)
bash testbed/engine/modelopt.sh  # needs the engine venv (its torch and transformers)
echo "prepare: nvidia-modelopt: $(($(stamp) - s))s"
echo "prepare: all parts ready in $(($(stamp) - t0))s"
