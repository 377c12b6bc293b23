#!/usr/bin/env bash
# Starts the bench's peer, KServe's controller manager v0.15.0 (built by build.sh), on a test bed as it runs in
# a cluster in RawDeployment mode (a Deployment and a Service per InferenceService, no Knative, no Istio): the
# release's kserve-crd chart, then its kserve-resources chart with deploymentMode RawDeployment and ingress
# creation off (no ingress controller here), so its ConfigMap, ClusterServingRuntimes, RBAC, webhook Service and
# webhook configurations are the release's. What differs from a cluster, as for the LWS controller
# (testbed/lws/start.sh): the manager is a host process with its ServiceAccount's token, not the chart's
# Deployment; the webhook Service has no selector and its Endpoints name the host's address on the pods' bridge;
# the chart's cert-manager Certificate and Issuer are left out (no cert-manager here), so this script issues the
# webhook's certificate with openssl and writes its CA into the caBundle of every webhook, as cert-manager's CA
# injector would. Needs the test bed up. Idempotent; stop with stop.sh.
set -euo pipefail
source "$(dirname "$0")/../../../testbed/lib.sh"
source "$TESTBED_DIR/procs.sh"
source "$(dirname "$0")/env.sh"

BIN=$KSERVE_CACHE/bin/kserve-manager
[ -x "$BIN" ] && [ -f "$KSERVE_CACHE/charts/kserve-resources/Chart.yaml" ] || {
  echo "kserve: the peer is not built in $KSERVE_CACHE; run bench/peer/kserve/build.sh first" >&2
  exit 1
}
KUBECONFIG_PATH=$STATE_DIR/kubeconfig
kc() { "$TESTBED_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
if pid=$(kserve_pid); then
  echo "kserve: already running (pid $pid)"
  exit 0
fi
HOST=$(cat "$STATE_DIR/agent/gateway" 2>/dev/null || true)
[[ $HOST =~ ^[0-9.]+$ ]] || { echo "kserve: $STATE_DIR/agent/gateway holds no IPv4 address; is the node agent up?" >&2; exit 1; }
start=$SECONDS
run=$STATE_DIR/run/kserve
mkdir -p "$run" "$STATE_DIR/pids" "$STATE_DIR/logs"

"$TESTBED_BIN/helm" template kserve-crd "$KSERVE_CACHE/charts/kserve-crd" >"$run/crds.yaml"
kc apply --server-side --force-conflicts -f "$run/crds.yaml" >/dev/null
for crd in inferenceservices servingruntimes clusterservingruntimes; do
  # kubectl wait errs (not waits) on a CRD whose status has no conditions yet; retry until it can wait.
  for _ in $(seq 60); do
    kc wait --for=condition=Established "crd/$crd.serving.kserve.io" --timeout=60s >/dev/null 2>&1 && break
    sleep 0.5
  done
done

# The webhook's certificate: a CA of this test bed's own and a serving certificate for the Service's DNS name.
svc=kserve-webhook-server-service
certs=$run/tmp/k8s-webhook-server/serving-certs  # controller-runtime's default CertDir under TMPDIR (v0.19)
if [ ! -s "$certs/tls.crt" ]; then
  mkdir -p "$certs"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=kserve-webhook-ca" \
    -keyout "$run/ca.key" -out "$run/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$svc.$KSERVE_NAMESPACE.svc" \
    -keyout "$certs/tls.key" -out "$run/tls.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local\n' "$svc" "$KSERVE_NAMESPACE" "$svc" \
    "$KSERVE_NAMESPACE" >"$run/san.ext"
  openssl x509 -req -in "$run/tls.csr" -CA "$run/ca.crt" -CAkey "$run/ca.key" -CAcreateserial -days 30 \
    -extfile "$run/san.ext" -out "$certs/tls.crt" 2>/dev/null
fi

kc create namespace "$KSERVE_NAMESPACE" --dry-run=client -o yaml | kc apply -f - >/dev/null
"$TESTBED_BIN/helm" template kserve "$KSERVE_CACHE/charts/kserve-resources" --namespace "$KSERVE_NAMESPACE" \
  --set kserve.controller.deploymentMode=RawDeployment \
  --set kserve.controller.gateway.disableIngressCreation=true |
  LATE=$run/runtimes.yaml PORT=$KSERVE_WEBHOOK_PORT CA_BUNDLE=$(base64 -w0 <"$run/ca.crt") "$AGENT_PYTHON" -c '
import os, sys, yaml
out, late = [], []
for doc in yaml.safe_load_all(sys.stdin):
    if not doc or doc["kind"] in ("Deployment", "Certificate", "Issuer"):
        continue
    if doc["kind"] == "Service" and doc["metadata"]["name"] == "kserve-webhook-server-service":
        doc["spec"].pop("selector", None)
        doc["spec"]["ports"] = [{"port": 443, "targetPort": int(os.environ["PORT"]), "protocol": "TCP"}]
    if doc["kind"].endswith("WebhookConfiguration"):
        doc["metadata"].get("annotations", {}).pop("cert-manager.io/inject-ca-from", None)
        for hook in doc["webhooks"]:
            hook["clientConfig"]["caBundle"] = os.environ["CA_BUNDLE"]
    (late if doc["kind"] in ("ClusterServingRuntime", "ClusterStorageContainer") else out).append(doc)
yaml.safe_dump_all(out, sys.stdout)
with open(os.environ["LATE"], "w") as f:
    yaml.safe_dump_all(late, f)
' >"$run/resources.yaml"
# The chart leaves some namespaced objects (its ServiceAccount) without a namespace: -n gives them its own.
kc apply -n "$KSERVE_NAMESPACE" --server-side --force-conflicts -f "$run/resources.yaml" >/dev/null
kc apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Endpoints
metadata: {name: $svc, namespace: $KSERVE_NAMESPACE}
subsets:
- addresses: [{ip: "$HOST"}]
  ports: [{port: $KSERVE_WEBHOOK_PORT, protocol: TCP}]
YAML

sa_kubeconfig "$KSERVE_NAMESPACE" kserve-controller-manager "$STATE_DIR/run/kserve-kubeconfig"
rm -f "$KSERVE_PID_FILE"
# The chart's args minus the leader election (one replica) and the metrics endpoint (kube-rbac-proxy's side).
# shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell
KUBECONFIG="$STATE_DIR/run/kserve-kubeconfig" POD_NAMESPACE=$KSERVE_NAMESPACE SECRET_NAME=kserve-webhook-server-cert \
  TMPDIR="$run/tmp" setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KSERVE_PID_FILE" \
  "$BIN" --metrics-addr=0 --health-probe-addr="$HOST:$KSERVE_PROBE_PORT" --webhook-port="$KSERVE_WEBHOOK_PORT" \
  </dev/null >>"$STATE_DIR/logs/kserve-manager.log" 2>&1 9<&- 8<&- &

# Ready when the API server's own call passes the InferenceService webhooks: a server-side dry run.
probe() {
  kc apply --dry-run=server -f - <<YAML
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: webhook-probe, namespace: $KSERVE_NAMESPACE}
spec:
  predictor:
    model:
      modelFormat: {name: huggingface}
      storageUri: hf://org/model
YAML
}
deadline=$((SECONDS + ${BENCH_KSERVE_TIMEOUT:-90}))
until probe >/dev/null 2>&1; do
  if { ! kserve_pid >/dev/null && [ -f "$KSERVE_PID_FILE" ]; } || ((SECONDS > deadline)); then
    echo "kserve: the webhooks did not answer; the last try said:" >&2
    probe >&2 || true
    echo "kserve: the end of $STATE_DIR/logs/kserve-manager.log:" >&2
    tail -n 20 "$STATE_DIR/logs/kserve-manager.log" >&2
    bash "$PEER_DIR/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.5
done
# The runtimes last, as KServe's own install does: its webhook validates them.
kc apply --server-side --force-conflicts -f "$run/runtimes.yaml" >/dev/null
echo "kserve: the controller manager serves its webhooks at $HOST:$KSERVE_WEBHOOK_PORT (pid $(kserve_pid), $((SECONDS - start))s)"
