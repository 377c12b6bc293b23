#!/usr/bin/env bash
# Starts the LeaderWorkerSet controller (sigs.k8s.io/lws, built by ../build.sh) as it runs in a cluster: the
# release's own Helm chart installs its CRD, its mutating and validating webhook configurations, its webhook
# Service, ServiceAccount and RBAC in lws-system; the controller manager then runs with that ServiceAccount's
# token, generates its webhook certificate itself (internal cert management: the cert-controller rotator
# writes the Secret lws-webhook-server-cert and the caBundle of both webhook configurations) and serves its
# webhooks. What differs from a cluster: the controller is a host process, not the chart's Deployment (no image
# can be pulled here), so the webhook Service has no selector and its Endpoints name the host's address on the
# pods' bridge (agent/gateway), where the webhook server listens. kube-apiserver runs with
# --enable-aggregator-routing=true and so calls a webhook at its Service's endpoints, as there is no kube-proxy
# (Endpoints refuse loopback addresses). Needs the node agent up (its bridge). Idempotent; stop with stop.sh.
# pid: $STATE_DIR/pids/lws-controller.pid, log: $STATE_DIR/logs/lws-controller.log.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/procs.sh"
source "$TESTBED_DIR/lws/procs.sh"

LWS_BIN=$LWS_CACHE/bin/lws-controller
[ -x "$LWS_BIN" ] && [ -f "$LWS_CACHE/chart/Chart.yaml" ] || {
  echo "lws: the LeaderWorkerSet controller is not built in $LWS_CACHE; run 'make testbed' first" >&2
  exit 1
}
KUBECONFIG_PATH=$STATE_DIR/kubeconfig
kc() { "$TESTBED_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
if pid=$(lws_pid); then
  echo "lws: already running (pid $pid)"
  exit 0
fi
HOST=$(cat "$STATE_DIR/agent/gateway" 2>/dev/null || true)
[[ $HOST =~ ^[0-9.]+$ ]] || { echo "lws: $STATE_DIR/agent/gateway holds no IPv4 address; is the node agent up?" >&2; exit 1; }
WEBHOOK_PORT=9443  # the chart's targetPort; the address is this test bed's own bridge, so ports never clash
PROBE_PORT=8081
start=$SECONDS

# The chart as the release ships it, minus the controller's Deployment (it runs below) and the webhook Service's
# selector (the Endpoints below are ours, not the EndpointSlice controller's).
kc create namespace "$LWS_NAMESPACE" --dry-run=client -o yaml | kc apply -f - >/dev/null
"$TESTBED_BIN/helm" template lws "$LWS_CACHE/chart" --namespace "$LWS_NAMESPACE" |
  "$AGENT_PYTHON" -c '
import sys, yaml
out = []
for doc in yaml.safe_load_all(sys.stdin):
    if not doc or doc["kind"] == "Deployment":
        continue
    if doc["kind"] == "Service" and doc["metadata"]["name"] == "lws-webhook-service":
        doc["spec"].pop("selector", None)
    out.append(doc)
yaml.safe_dump_all(out, sys.stdout)
' >"$STATE_DIR/run/lws-chart.yaml"
kc apply --server-side --force-conflicts -f "$STATE_DIR/run/lws-chart.yaml" >/dev/null
kc apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Endpoints
metadata: {name: lws-webhook-service, namespace: $LWS_NAMESPACE}
subsets:
- addresses: [{ip: "$HOST"}]
  ports: [{port: $WEBHOOK_PORT, protocol: TCP}]
YAML
kc wait --for=condition=Established crd/leaderworkersets.leaderworkerset.x-k8s.io --timeout=60s >/dev/null

# The ServiceAccount's own token: the controller has exactly the chart's RBAC, as in its pod.
mkdir -p "$STATE_DIR/run" "$STATE_DIR/pids" "$STATE_DIR/logs" "$STATE_DIR/lws/certs"
sa_kubeconfig "$LWS_NAMESPACE" lws-controller-manager "$STATE_DIR/run/lws-kubeconfig"
umask 077
# The chart's configuration (manager/configmap.yaml) with the addresses of this host; no metrics endpoint.
cat >"$STATE_DIR/run/lws-config.yaml" <<YAML
apiVersion: config.lws.x-k8s.io/v1alpha1
kind: Configuration
leaderElection: {leaderElect: false}
internalCertManagement: {enable: true}
webhook: {host: "$HOST", port: $WEBHOOK_PORT, certDir: "$STATE_DIR/lws/certs"}
health: {healthProbeBindAddress: "$HOST:$PROBE_PORT"}
metrics: {bindAddress: "0"}
YAML
umask 022
rm -f "$LWS_PID_FILE"
# shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell
KUBECONFIG="$STATE_DIR/run/lws-kubeconfig" setsid bash -c 'echo $$ >"$0"; exec "$@"' "$LWS_PID_FILE" \
  "$LWS_BIN" --config "$STATE_DIR/run/lws-config.yaml" --zap-devel=false \
  </dev/null >>"$STATE_DIR/logs/lws-controller.log" 2>&1 9<&- 8<&- &

# In a cluster the kubelet mounts the Secret the rotator fills at certDir, and the rotator waits for the files
# there before it serves; here the Secret's three keys are copied there once they exist, as that volume would.
mount_certs() {
  local key
  for key in ca.crt tls.crt tls.key; do
    kc -n "$LWS_NAMESPACE" get secret lws-webhook-server-cert -o "jsonpath={.data.${key//./\\.}}" | base64 -d \
      >"$STATE_DIR/lws/certs/$key.tmp" && [ -s "$STATE_DIR/lws/certs/$key.tmp" ] || return 1
  done
  for key in ca.crt tls.crt tls.key; do mv "$STATE_DIR/lws/certs/$key.tmp" "$STATE_DIR/lws/certs/$key"; done
}
deadline=$((SECONDS + ${TESTBED_LWS_TIMEOUT:-90}))
until mount_certs 2>/dev/null; do
  if ! lws_pid >/dev/null || ((SECONDS > deadline)); then
    echo "lws: the controller wrote no certificate to the Secret lws-webhook-server-cert; the end of its log:" >&2
    tail -n 20 "$STATE_DIR/logs/lws-controller.log" >&2
    bash "$TESTBED_DIR/lws/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.5
done

# Ready when the API server's own calls pass both webhooks: a server-side dry run of a LeaderWorkerSet.
probe_lws() {
  kc apply --dry-run=server -f - <<YAML
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: webhook-probe, namespace: $LWS_NAMESPACE}
spec:
  leaderWorkerTemplate:
    size: 2
    workerTemplate:
      spec:
        containers: [{name: c, image: busybox:1, command: [sleep, "1"]}]
YAML
}
until probe_lws >/dev/null 2>&1; do
  if { ! lws_pid >/dev/null && [ -f "$LWS_PID_FILE" ]; } || ((SECONDS > deadline)); then
    echo "lws: the webhooks did not answer; the last try said:" >&2
    probe_lws >&2 || true
    echo "lws: the end of $STATE_DIR/logs/lws-controller.log:" >&2
    tail -n 20 "$STATE_DIR/logs/lws-controller.log" >&2
    bash "$TESTBED_DIR/lws/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "lws: the LeaderWorkerSet controller serves its webhooks at $HOST:$WEBHOOK_PORT (pid $(lws_pid), $((SECONDS - start))s)"
