#!/usr/bin/env bash
# Starts the test bed: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the kwok controller as
# local processes on 127.0.0.1, then the simulated nodes and the default StorageClass, then the node agent
# (testbed/agent) whose nodes local-cpu-0 and local-gpu-0 run their pods as real processes (docs/testbed.md), then
# the Hub mirror and Prometheus when `make engine` installed them (docs/testbed-engine.md).
# State, pids and logs go to $STATE_DIR (.testbed in the repo); the admin kubeconfig is always
# $STATE_DIR/kubeconfig.
# Idempotent: when the test bed is already up and healthy it says so and exits. See testbed/README.md.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=procs.sh
source "$TESTBED_DIR/procs.sh"
lock_testbed

# Ports on 127.0.0.1, fixed (away from the usual 2379/6443/10257/10259 of a real cluster) but overridable.
ETCD_PORT=${TESTBED_ETCD_PORT:-22379}
ETCD_PEER_PORT=${TESTBED_ETCD_PEER_PORT:-22380}
APISERVER_PORT=${TESTBED_APISERVER_PORT:-26443}
KCM_PORT=${TESTBED_KCM_PORT:-20257}
SCHEDULER_PORT=${TESTBED_SCHEDULER_PORT:-20259}
KWOK_PORT=${TESTBED_KWOK_PORT:-20247}
# Addresses inside the simulated cluster. Nothing routes to them: never send traffic to a pod or service IP.
SERVICE_CIDR=10.96.0.0/12
SERVICE_IP=10.96.0.1
POD_CIDR=10.244.0.0/16
# kwok: how long a scheduled pod stays Pending before Running+Ready, and how long a Job's pod runs.
POD_READY_MS=${TESTBED_POD_READY_MS:-0}
POD_RUN_MS=${TESTBED_POD_RUN_MS:-3000}
TIMEOUT=${TESTBED_STARTUP_TIMEOUT:-90}
# Test-bed settings of the real HPA controller, so an autoscaling test takes minutes, not a quarter hour: it
# reads the metrics every 5 s (a cluster's default: 15 s) and, where an HPA has no behavior.scaleDown of its
# own, waits 30 s (default: 5 min) of lower recommendations before scaling down. The operator always renders
# behavior.scaleDown.stabilizationWindowSeconds, so only the sync period matters to its HPAs.
HPA_SYNC_PERIOD=${TESTBED_HPA_SYNC_PERIOD:-5s}
HPA_DOWNSCALE_STABILIZATION=${TESTBED_HPA_DOWNSCALE_STABILIZATION:-30s}

PKI=$STATE_DIR/pki
KUBECONFIG_PATH=$STATE_DIR/kubeconfig
KUBECTL=$TESTBED_BIN/kubectl
start_ms=$(date +%s%3N)

elapsed() { local now; now=$(date +%s%3N); printf '%d.%01ds' $(((now - start_ms) / 1000)) $(((now - start_ms) % 1000 / 100)); }
say() { echo "testbed: [$(elapsed)] $*"; }
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
curl_ok() {  # URL [CURL-ARGS...]
  local url=$1
  shift
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" "$@" "$url" >/dev/null 2>&1
}

# --- preconditions -----------------------------------------------------------------------------------------
for b in "${TESTBED_BINARIES[@]}" kubectl; do
  if [ ! -x "$TESTBED_BIN/$b" ]; then
    echo "testbed: $b is not built in $TESTBED_BIN; run 'make testbed' (testbed/build.sh) first" >&2
    exit 1
  fi
done
for tool in openssl curl setsid flock ip nsenter; do
  command -v "$tool" >/dev/null 2>&1 || { echo "testbed: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "testbed: the node agent (testbed/agent) needs root: network namespaces, bind mounts, setuid" >&2
  exit 1
fi
[ -x "$AGENT_PYTHON" ] || { echo "testbed: $AGENT_PYTHON is missing; run 'make venv' first" >&2; exit 1; }
for v in POD_READY_MS POD_RUN_MS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "testbed: TESTBED_$v must be a number of milliseconds" >&2; exit 1; }
done

# --- already up? -------------------------------------------------------------------------------------------
running_components=()
for c in "${TESTBED_COMPONENTS[@]}"; do
  our_pid "$c" >/dev/null && running_components+=("$c")
done
if [ ${#running_components[@]} -eq ${#TESTBED_COMPONENTS[@]} ] && [ -f "$KUBECONFIG_PATH" ] &&
  [ -f "$STATE_DIR/apiserver-port" ] &&
  curl_ok "https://127.0.0.1:$(<"$STATE_DIR/apiserver-port")/readyz"; then
  say "already up and healthy; export KUBECONFIG=$KUBECONFIG_PATH"
  exit 0
fi
if [ ${#running_components[@]} -gt 0 ]; then
  say "partly up (running: ${running_components[*]}); stopping it to start afresh"
  bash "$TESTBED_DIR/metrics-adapter/stop.sh" || true
  bash "$TESTBED_DIR/prometheus/stop.sh" || true
  bash "$TESTBED_DIR/hub/stop.sh" || true
  bash "$TESTBED_DIR/s3/stop.sh" || true
  bash "$TESTBED_DIR/lws/stop.sh" || true
  stop_all_components
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT; do
  if port_in_use "${!p}"; then
    echo "testbed: port ${!p} on 127.0.0.1 is taken by another process; set TESTBED_$p to a free port" >&2
    exit 1
  fi
done

# From here on, a failure stops what was started and shows the end of each log.
on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] && return
  echo "testbed: startup failed after $(elapsed); the end of each log:" >&2
  for c in "${TESTBED_COMPONENTS[@]}"; do
    [ -f "$(log_file "$c")" ] && { echo "--- $c ---" >&2; tail -n 15 "$(log_file "$c")" >&2; }
  done
  bash "$TESTBED_DIR/metrics-adapter/stop.sh" >&2 || true
  bash "$TESTBED_DIR/prometheus/stop.sh" >&2 || true
  bash "$TESTBED_DIR/hub/stop.sh" >&2 || true
  bash "$TESTBED_DIR/s3/stop.sh" >&2 || true
  bash "$TESTBED_DIR/lws/stop.sh" >&2 || true
  stop_all_components >&2
  echo "testbed: logs kept in $STATE_DIR/logs" >&2
}
trap on_exit EXIT

clean_agent_leftovers "$APISERVER_PORT"  # a node agent of this state dir that was killed leaves its netns
rm -rf "$STATE_DIR/etcd" "$PKI" "$STATE_DIR/logs" "$STATE_DIR/pids" "$STATE_DIR/run" "$STATE_DIR/kubeconfigs" \
  "$STATE_DIR/agent" \
  "$KUBECONFIG_PATH"
mkdir -p "$STATE_DIR" "$PKI" "$STATE_DIR/logs" "$STATE_DIR/pids" "$STATE_DIR/run" "$STATE_DIR/kubeconfigs"
echo "$APISERVER_PORT" >"$STATE_DIR/apiserver-port"

# --- certificates (a throwaway CA for this run) --------------------------------------------------------------
say "generating certificates"
cat >"$PKI/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$SERVICE_IP
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
ec_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 -config "$PKI/openssl.cnf" -extensions ca "${ec_key[@]}" -days 3650 \
  -subj "/CN=inference-operator-testbed-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
issue() {  # name subject extensions
  openssl req -new -config "$PKI/openssl.cnf" "${ec_key[@]}" -subj "$2" -keyout "$PKI/$1.key" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 3650 -extfile "$PKI/openssl.cnf" -extensions "$3" -out "$PKI/$1.crt" 2>/dev/null
}
issue serving "/CN=kube-apiserver" server
# The aggregation layer (the custom metrics API the HPA reads, testbed/metrics-adapter): a front-proxy CA of its
# own, as kubeadm keeps one, and the client certificate the API server presents to aggregated API servers.
openssl req -x509 -config "$PKI/openssl.cnf" -extensions ca "${ec_key[@]}" -days 3650 \
  -subj "/CN=inference-operator-testbed-front-proxy-ca" -keyout "$PKI/front-proxy-ca.key" \
  -out "$PKI/front-proxy-ca.crt" 2>/dev/null
openssl req -new -config "$PKI/openssl.cnf" "${ec_key[@]}" -subj "/CN=front-proxy-client" \
  -keyout "$PKI/front-proxy-client.key" 2>/dev/null |
  openssl x509 -req -CA "$PKI/front-proxy-ca.crt" -CAkey "$PKI/front-proxy-ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$PKI/openssl.cnf" -extensions client \
    -out "$PKI/front-proxy-client.crt" 2>/dev/null
issue admin "/O=system:masters/CN=testbed-admin" client
issue kube-controller-manager "/CN=system:kube-controller-manager" client
issue kube-scheduler "/CN=system:kube-scheduler" client
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

write_kubeconfig() {  # path user
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$2.crt")
    client-key-data: $(base64 -w0 <"$PKI/$2.key")
contexts:
- name: testbed
  context:
    cluster: testbed
    user: $2
current-context: testbed
EOF
  chmod 600 "$1"
}
write_kubeconfig "$STATE_DIR/kubeconfigs/kube-controller-manager" kube-controller-manager
write_kubeconfig "$STATE_DIR/kubeconfigs/kube-scheduler" kube-scheduler
write_kubeconfig "$STATE_DIR/kubeconfigs/admin" admin

# The API server's audit log keeps every write to a Deployment with its body (the request's URI names the field
# manager), so a test can count who wrote spec.replicas (tests/e2e/test_autoscaling.py). Nothing else is logged.
cat >"$STATE_DIR/run/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Request
    verbs: [create, update, patch]
    resources: [{group: apps, resources: [deployments, deployments/scale]}]
  - level: None
EOF
sed -e "s/@POD_READY_MS@/$POD_READY_MS/g" -e "s/@POD_RUN_MS@/$POD_RUN_MS/g" \
  "$TESTBED_DIR/kwok/stages.yaml" >"$STATE_DIR/run/kwok-stages.yaml"

# --- processes -----------------------------------------------------------------------------------------------
# All start at once: each retries until what it depends on answers.
say "starting etcd (127.0.0.1:$ETCD_PORT)"
start_component etcd \
  --name testbed --data-dir "$STATE_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "testbed=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --log-level warn

say "starting kube-apiserver (https://127.0.0.1:$APISERVER_PORT)"
start_component kube-apiserver \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
  --cert-dir "$STATE_DIR/run/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --tls-cert-file "$PKI/serving.crt" --tls-private-key-file "$PKI/serving.key" \
  --client-ca-file "$PKI/ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction,PodSecurity \
  --allow-privileged=true \
  --endpoint-reconciler-type none \
  --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
  --enable-aggregator-routing=true \
  --audit-policy-file "$STATE_DIR/run/audit-policy.yaml" --audit-log-path "$STATE_DIR/logs/audit.log" \
  --audit-log-format json --audit-log-maxsize 200 --audit-log-maxbackup 1 \
  --profiling=false

say "starting kube-controller-manager, kube-scheduler and kwok"
start_component kube-controller-manager \
  --kubeconfig "$STATE_DIR/kubeconfigs/kube-controller-manager" \
  --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$STATE_DIR/run/kube-controller-manager" \
  --controllers '*' --use-service-account-credentials \
  --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --flex-volume-plugin-dir "$STATE_DIR/run/flexvolume" \
  --leader-elect=false --kube-api-qps 100 --kube-api-burst 200 --profiling=false \
  --horizontal-pod-autoscaler-sync-period "$HPA_SYNC_PERIOD" \
  --horizontal-pod-autoscaler-downscale-stabilization "$HPA_DOWNSCALE_STABILIZATION"
start_component kube-scheduler \
  --kubeconfig "$STATE_DIR/kubeconfigs/kube-scheduler" \
  --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --cert-dir "$STATE_DIR/run/kube-scheduler" \
  --leader-elect=false --kube-api-qps 100 --kube-api-burst 200 --profiling=false
# KWOK_WORKDIR keeps a user's ~/.kwok/kwok.yaml out of the test bed.
KWOK_WORKDIR="$STATE_DIR/run/kwok" start_component kwok \
  --kubeconfig "$STATE_DIR/kubeconfigs/admin" \
  --config "$STATE_DIR/run/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --cidr "$POD_CIDR" --node-ip 127.0.0.1 --node-port "$KWOK_PORT" \
  --server-address "127.0.0.1:$KWOK_PORT" \
  --tls-cert-file "$PKI/serving.crt" --tls-private-key-file "$PKI/serving.key" \
  --node-lease-duration-seconds 40

# wait_for WHAT COMMAND...: polls COMMAND until it succeeds; fails early when a component died.
wait_for() {
  local what=$1 c
  shift
  until "$@" >/dev/null 2>&1; do
    for c in "${TESTBED_COMPONENTS[@]}"; do
      [ -f "$(pid_file "$c")" ] || continue  # not started yet
      our_pid "$c" >/dev/null || { echo "testbed: $c exited while waiting for $what" >&2; return 1; }
    done
    if (($(date +%s%3N) - start_ms > TIMEOUT * 1000)); then
      echo "testbed: timed out after ${TIMEOUT}s waiting for $what; the last try said:" >&2
      "$@" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

wait_for "kube-apiserver /readyz" curl_ok "https://127.0.0.1:$APISERVER_PORT/readyz"
# The admin kubeconfig is published only once the API server answers.
cp "$STATE_DIR/kubeconfigs/admin" "$KUBECONFIG_PATH"
say "kube-apiserver ready"

say "creating the nodes and the default StorageClass"
wait_for "the nodes to be created" kc apply -f "$TESTBED_DIR/nodes.yaml" -f "$TESTBED_DIR/storage.yaml" -o name
wait_for "the ServiceAccount default/default" kc get serviceaccount default -n default -o name
wait_for "kube-controller-manager /healthz" curl_ok "https://127.0.0.1:$KCM_PORT/healthz" -k
wait_for "kube-scheduler /readyz" curl_ok "https://127.0.0.1:$SCHEDULER_PORT/readyz" -k
wait_for "kwok /healthz" curl_ok "https://127.0.0.1:$KWOK_PORT/healthz"
nodes_ready() {
  [ "$(kc get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$')" -eq "$(grep -c '^kind: Node$' "$TESTBED_DIR/nodes.yaml")" ]
}
wait_for "the nodes to be Ready" nodes_ready

# The nodes whose pods are real processes: the project's node agent registers and runs them (testbed/agent).
say "starting the node agent (nodes local-cpu-0, local-gpu-0)"
start_component node-agent -m agent --kubeconfig "$STATE_DIR/kubeconfigs/admin" --state-dir "$STATE_DIR" \
  --instance "$APISERVER_PORT"
agent_nodes_ready() {
  [ "$(kc get nodes -l type=local-process \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$')" -eq 2 ]
}
wait_for "the node agent's nodes to be Ready" agent_nodes_ready

# The LeaderWorkerSet controller with its CRD and webhooks (testbed/lws/start.sh): multi-node groups.
# TESTBED_LWS=0 leaves it out (the private test beds of the chaos and shutdown tests, which need none).
if [ "${TESTBED_LWS:-1}" = 0 ]; then
  say "TESTBED_LWS=0: the LeaderWorkerSet controller is not started"
else
  say "starting the LeaderWorkerSet controller"
  bash "$TESTBED_DIR/lws/start.sh"
fi

# The real engine's neighbours (docs/testbed-engine.md): the Hub mirror pods download the model from, a real
# Prometheus scraping them with the metrics adapter reading it, and the S3-compatible store weight-cache entries
# can be filled from (testbed/s3, SeaweedFS from PyPI). They need `make engine`; without it the kwok part of the
# test bed still works, and the tests that need them fail saying so.
# shellcheck source=engine/env.sh
source "$TESTBED_DIR/engine/env.sh"
start_engine_parts() {
  if [ -f "$HUB_VENV/.complete" ] && [ -f "$MODEL_CACHE/.complete" ] && [ -x "$PROMETHEUS_BUILT" ]; then
    say "starting the Hub mirror and Prometheus"
    bash "$TESTBED_DIR/hub/start.sh"
    bash "$TESTBED_DIR/prometheus/start.sh"
    if [ -x "$ADAPTER_BIN/prometheus-adapter" ]; then
      say "starting the metrics adapter (custom.metrics.k8s.io from Prometheus)"
      bash "$TESTBED_DIR/metrics-adapter/start.sh"
    else
      say "the metrics adapter is not built (make testbed): custom.metrics.k8s.io is not served"
    fi
  else
    say "the Hub mirror and Prometheus are not installed (make engine): not started"
  fi
  if [ -f "$CACHE_ROOT/s3/seaweedfs-$(sed -n 's/^SEAWEEDFS_VERSION=//p' "$TESTBED_DIR/s3/versions.env")/.complete" ]; then
    say "starting the S3 store"
    # Not fatal: only the weight-cache tests need the store, and they start it themselves, failing with
    # start.sh's words, when it does not run (tests/support/s3_store.py).
    bash "$TESTBED_DIR/s3/start.sh" || say "the S3 store did not start (testbed/s3/start.sh above): not serving S3"
  else
    say "the S3 store is not installed (make engine): not started"
  fi
}
# TESTBED_ENGINE_PARTS=0 leaves them all out: every private test bed (tests/support/private_testbed.py) sets it,
# as what runs there runs on the simulated nodes.
if [ "${TESTBED_ENGINE_PARTS:-1}" = 0 ]; then
  say "TESTBED_ENGINE_PARTS=0: the Hub mirror, Prometheus, the metrics adapter and the S3 store are not started"
else
  start_engine_parts
fi

trap - EXIT
say "up; export KUBECONFIG=$KUBECONFIG_PATH  (kubectl: $TESTBED_BIN/kubectl)"
kc get nodes -L nvidia.com/gpu.product,nvidia.com/gpu.count,testbed.inference-operator.dev/pool
