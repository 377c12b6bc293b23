#!/usr/bin/env bash
# `make demo`: the embedded control plane, the operator, every sample, until each is Ready; left running.
# `make demo-down` (this script with `down`): stops the demo's operator and the control plane.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# TESTBED_STATE_DIR, as testbed/up.sh reads it: a test runs the demo on a test bed of its own.
state=${TESTBED_STATE_DIR:-.testbed}
ns=inference-demo
pidfile=$state/demo-operator.pid
log=$state/demo-operator.log
bin=$(bash testbed/bin-path.sh)
kubectl() { "$bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

stop_operator() {
  # Only the operator this script started: the pid file's process, if it still is `inference-operator run`
  # (or `python -m inference_operator...`, whatever the interpreter path) for this demo's namespace and
  # kubeconfig. A pid reused by anything else is left alone.
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do  # the operator exits within 10 s of SIGTERM (docs/reliability.md)
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      echo "demo: the operator (pid $pid) did not exit within 10 s of SIGTERM: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "demo: stopped the operator (pid $pid)"
  elif running "$pid"; then
    echo "demo: pid $pid is not the demo's operator: left alone"
  fi
  rm -f "$pidfile"
}

# Alive and not a zombie: the operator outlives this script, and where nothing reaps orphans (PID 1 of some
# containers) an exited one stays a zombie, which `kill -0` still finds.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

ours() {
  local cmdline environ
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  environ=$(tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null) || return 1
  [[ $cmdline =~ inference[-_]operator ]] && [[ $cmdline == *" run "* ]] && [[ $cmdline == *" $ns"* ]] &&
    grep -qxF "KUBECONFIG=$state/kubeconfig" <<<"$environ"
}

if [ "${1:-}" = "down" ]; then
  stop_operator
  bash testbed/down.sh
  exit 0
fi

bash testbed/build.sh
bash testbed/up.sh
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null

stop_operator
# The demo's operator watches only the demo namespace, so `make test` can share the control plane with it.
INFOP_METRICS_PORT=${INFOP_METRICS_PORT:-18080} INFOP_HEALTH_PORT=${INFOP_HEALTH_PORT:-18081} \
  KUBECONFIG="$state/kubeconfig" setsid .venv/bin/inference-operator run --namespace "$ns" >"$log" 2>&1 &
echo $! >"$pidfile"
echo "demo: operator started (pid $(cat "$pidfile"), log $log)"

kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# The gated Llama samples name a Secret with a Hugging Face token; the simulated pods never use it.
kubectl -n "$ns" create secret generic hf-token --from-literal=HF_TOKEN=demo-placeholder-not-a-token \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" apply -f manifests/samples/

echo "demo: waiting for every sample to be Ready (the TensorRT-LLM one builds its engine first) ..."
names=$(kubectl -n "$ns" get infd -o name)
for n in $names; do
  kubectl -n "$ns" wait "$n" --for=jsonpath='{.status.phase}'=Ready --timeout=180s >/dev/null
  if [ "$(kubectl -n "$ns" get "$n" -o jsonpath='{.spec.engine.preference}')" = tensorrt-llm ]; then
    # Ready already while vLLM serves; the point is the cut-over once the engine is built.
    kubectl -n "$ns" wait "$n" --for=jsonpath='{.status.engine.active}'=tensorrt-llm --timeout=180s >/dev/null
  fi
done

echo
kubectl -n "$ns" get infd -o wide
echo
kubectl -n "$ns" get enginebuilds,jobs,deployments,services,persistentvolumeclaims
echo
kubectl get nodes -L nvidia.com/gpu.product
cat <<EOF

The demo keeps running. Explore it:
  export KUBECONFIG=$(cd "$state" && pwd)/kubeconfig
  alias kubectl=$bin/kubectl
  kubectl -n $ns describe infd llama-3-1-70b-trtllm     # engine choice, build, cut-over Events
  kubectl explain infd.spec.engine
  .venv/bin/inference-operator advise --tokens-per-month 2B --gpu-product NVIDIA-H100-80GB-HBM3 \\
      --architecture LlamaForCausalLM
  tail -f $log
Stop it with: make demo-down
EOF
