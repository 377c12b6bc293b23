#!/usr/bin/env bash
# Starts the custom metrics API the real HPA controller reads: sigs.k8s.io/prometheus-adapter (built by
# build.sh) with the chart's rules (charts/inference-operator/files/prometheus-adapter-rules.yaml), reading the
# test bed's Prometheus, registered with the API server as v1beta1 and v1beta2 of custom.metrics.k8s.io.
# How it is wired, as in a cluster except that it is a host process rather than a pod (a pod of the node agent
# could reach neither the API server nor Prometheus, which listen on 127.0.0.1 only):
# - it listens on the host's address on the pods' bridge (agent/gateway), a routable address: an Endpoints
#   object may not hold a loopback one;
# - an APIService names the Service testbed-metrics/prometheus-adapter, selector-less, whose Endpoints hold that
#   address; the API server (--enable-aggregator-routing, no kube-proxy here) proxies to it over TLS, checking
#   the adapter's serving certificate (issued here from the test bed's CA for the Service's DNS name) against
#   the APIService's caBundle, and presenting its front-proxy client certificate (up.sh);
# - the adapter authenticates those requests by the front-proxy CA (from kube-system's
#   extension-apiserver-authentication ConfigMap) and authorizes them by SubjectAccessReview, with a client
#   certificate of its own (CN testbed-prometheus-adapter) bound to what it needs.
# pid: $STATE_DIR/pids/prometheus-adapter.pid, log: $STATE_DIR/logs/prometheus-adapter.log, files:
# $STATE_DIR/metrics-adapter/. Idempotent. Stop with stop.sh.
#   TESTBED_ADAPTER_PORT  its port on the bridge address (default 20443; each test bed has its own address)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"
source "$TESTBED_DIR/metrics-adapter/procs.sh"

ADAPTER=$ADAPTER_BIN/prometheus-adapter
PORT=${TESTBED_ADAPTER_PORT:-20443}
PKI=$STATE_DIR/pki
DIR=$STATE_DIR/metrics-adapter
RULES=$REPO_DIR/charts/inference-operator/files/prometheus-adapter-rules.yaml
NS=testbed-metrics
SVC=prometheus-adapter
kc() { "$TESTBED_BIN/kubectl" --kubeconfig "$STATE_DIR/kubeconfig" "$@"; }

[ -x "$ADAPTER" ] || { echo "metrics-adapter: $ADAPTER is not built; run 'make testbed'" >&2; exit 1; }
[[ $PORT =~ ^[0-9]+$ ]] || { echo "metrics-adapter: TESTBED_ADAPTER_PORT must be a port number" >&2; exit 1; }
for f in "$PKI/ca.crt" "$PKI/ca.key" "$STATE_DIR/kubeconfig" "$STATE_DIR/apiserver-port" \
  "$STATE_DIR/agent/gateway" "$STATE_DIR/prometheus/endpoint"; do
  [ -f "$f" ] || { echo "metrics-adapter: $f is missing; start the test bed with Prometheus first (make testbed-up)" >&2; exit 1; }
done
HOST=$(<"$STATE_DIR/agent/gateway")
[[ $HOST =~ ^[0-9.]+$ ]] || { echo "metrics-adapter: $STATE_DIR/agent/gateway does not hold an IPv4 address" >&2; exit 1; }
if pid=$(adapter_pid); then
  echo "metrics-adapter: already running (pid $pid) at https://$HOST:$PORT"
  exit 0
fi
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
  echo "metrics-adapter: port $PORT on $HOST is taken; set TESTBED_ADAPTER_PORT to a free port" >&2
  exit 1
fi
mkdir -p "$DIR" "$STATE_DIR/pids" "$STATE_DIR/logs"

issue() {  # name subject extensions [extfile-extra]
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$2" -keyout "$DIR/$1.key" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 8)" -days 30 \
      -extfile "$DIR/ext.cnf" -extensions "$3" -out "$DIR/$1.crt" 2>/dev/null
  chmod 600 "$DIR/$1.key"
}
cat >"$DIR/ext.cnf" <<EOF2
[serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$SVC.$NS.svc,DNS:$SVC.$NS.svc.cluster.local,IP:$HOST
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF2
issue serving "/CN=$SVC.$NS.svc" serving
issue client "/CN=testbed-prometheus-adapter" client
apiserver="https://127.0.0.1:$(<"$STATE_DIR/apiserver-port")"
cat >"$DIR/kubeconfig" <<EOF2
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster: {server: "$apiserver", certificate-authority: "$PKI/ca.crt"}
users:
- name: adapter
  user: {client-certificate: "$DIR/client.crt", client-key: "$DIR/client.key"}
contexts:
- name: testbed
  context: {cluster: testbed, user: adapter}
current-context: testbed
EOF2
chmod 600 "$DIR/kubeconfig"
cp "$RULES" "$DIR/rules.yaml"

# What the adapter may do: delegate authentication and authorization (the bootstrap roles kubeadm clusters
# bind for it), read the front-proxy CA, and resolve namespaces and pods of the series it serves.
kc apply -o name -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: testbed-prometheus-adapter
rules:
  - apiGroups: [""]
    resources: [namespaces, pods, services, nodes]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: testbed-prometheus-adapter
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: testbed-prometheus-adapter}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: testbed-prometheus-adapter}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: testbed-prometheus-adapter-auth-delegator
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: testbed-prometheus-adapter}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: testbed-prometheus-adapter-auth-reader
  namespace: kube-system
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: testbed-prometheus-adapter}]
---
apiVersion: v1
kind: Service
metadata:
  name: $SVC
  namespace: $NS
spec:
  ports: [{name: https, port: 443, targetPort: $PORT}]
---
apiVersion: v1
kind: Endpoints
metadata:
  name: $SVC
  namespace: $NS
subsets:
  - addresses: [{ip: "$HOST"}]
    ports: [{name: https, port: $PORT}]
YAML
for version in v1beta1 v1beta2; do
  kc apply -o name -f - >/dev/null <<YAML
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: $version.custom.metrics.k8s.io
spec:
  group: custom.metrics.k8s.io
  version: $version
  service: {name: $SVC, namespace: $NS, port: 443}
  caBundle: $(base64 -w0 <"$PKI/ca.crt")
  groupPriorityMinimum: 100
  versionPriority: $([ $version = v1beta2 ] && echo 200 || echo 100)
YAML
done

rm -f "$ADAPTER_PID_FILE"
# Relisted every 10 s (the default, 10 min, would hide a new engine's series that long).
# shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$ADAPTER_PID_FILE" "$ADAPTER" \
  --secure-port="$PORT" --bind-address="$HOST" --cert-dir="$DIR/certs" \
  --tls-cert-file="$DIR/serving.crt" --tls-private-key-file="$DIR/serving.key" \
  --lister-kubeconfig="$DIR/kubeconfig" --authentication-kubeconfig="$DIR/kubeconfig" \
  --authorization-kubeconfig="$DIR/kubeconfig" \
  --prometheus-url="$(<"$STATE_DIR/prometheus/endpoint")" --config="$DIR/rules.yaml" \
  --metrics-relist-interval=10s --metrics-max-age=2m --v=1 \
  </dev/null >>"$STATE_DIR/logs/prometheus-adapter.log" 2>&1 9<&- 8<&- &
deadline=$((SECONDS + ${TESTBED_ADAPTER_TIMEOUT:-60}))
until kc get --raw /apis/custom.metrics.k8s.io/v1beta2 >/dev/null 2>&1; do
  if { [ -f "$ADAPTER_PID_FILE" ] && ! adapter_pid >/dev/null; } || ((SECONDS > deadline)); then
    echo "metrics-adapter: custom.metrics.k8s.io is not served; the end of $STATE_DIR/logs/prometheus-adapter.log:" >&2
    tail -n 20 "$STATE_DIR/logs/prometheus-adapter.log" >&2
    kc get apiservice v1beta2.custom.metrics.k8s.io -o jsonpath='{.status.conditions}' >&2 || true
    bash "$TESTBED_DIR/metrics-adapter/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "metrics-adapter: custom.metrics.k8s.io served by https://$HOST:$PORT (pid $(adapter_pid))"
