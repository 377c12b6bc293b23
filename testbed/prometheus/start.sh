#!/usr/bin/env bash
# Starts a real Prometheus (built by build.sh: Debian's has no Kubernetes discovery) on 127.0.0.1:$TESTBED_PROMETHEUS_PORT (default
# 20290) that finds pods through the test bed's API server (kubernetes_sd_configs, role pod) and scrapes the
# annotated ones (prometheus.io/scrape, /port, /path) at their pod IPs — only on the process nodes, whose pods
# are real processes on loopback addresses. kwok's pods have addresses nothing listens on: never scraped.
# It loads the chart's alert rules too, so their expressions are evaluated on real series.
# Reads the API server with a client certificate of its own (CN testbed-prometheus, issued here from the test
# bed's CA) bound to a ClusterRole that can only get/list/watch pods.
# pid: $STATE_DIR/pids/prometheus.pid, log: $STATE_DIR/logs/prometheus.log, data and config:
# $STATE_DIR/prometheus/, its URL: $STATE_DIR/prometheus/endpoint. Idempotent. Stop with stop.sh.
#   TESTBED_PROMETHEUS_PORT            listen port (127.0.0.1)
#   TESTBED_PROCESS_NODES              nodes whose pods are scraped (default "local-cpu-0 local-gpu-0")
#   TESTBED_PROMETHEUS_SCRAPE_INTERVAL scrape and rule interval (default 2s)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"
source "$TESTBED_DIR/prometheus/procs.sh"

PROMETHEUS=${PROMETHEUS_BIN:-$PROMETHEUS_BUILT}
NODES=${TESTBED_PROCESS_NODES:-local-cpu-0 local-gpu-0}
INTERVAL=${TESTBED_PROMETHEUS_SCRAPE_INTERVAL:-2s}
PKI=$STATE_DIR/pki
DIR=$STATE_DIR/prometheus
RULES=$REPO_DIR/charts/inference-operator/files/prometheus-rules.yaml

[ -x "$PROMETHEUS" ] || { echo "prometheus: $PROMETHEUS is not built; run testbed/prometheus/build.sh (make engine)" >&2; exit 1; }
[[ $PROMETHEUS_PORT =~ ^[0-9]+$ ]] || { echo "prometheus: TESTBED_PROMETHEUS_PORT must be a port number" >&2; exit 1; }
[[ $NODES =~ ^[a-z0-9.\ -]+$ ]] || { echo "prometheus: TESTBED_PROCESS_NODES must be node names" >&2; exit 1; }
for f in "$PKI/ca.crt" "$PKI/ca.key" "$STATE_DIR/kubeconfig" "$STATE_DIR/apiserver-port"; do
  [ -f "$f" ] || { echo "prometheus: $f is missing; start the test bed first (make testbed-up)" >&2; exit 1; }
done
if pid=$(prometheus_pid); then
  echo "prometheus: already running (pid $pid) at $(<"$DIR/endpoint")"
  exit 0
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PROMETHEUS_PORT") 2>/dev/null; then
  echo "prometheus: port $PROMETHEUS_PORT on 127.0.0.1 is taken; set TESTBED_PROMETHEUS_PORT to a free port" >&2
  exit 1
fi
mkdir -p "$DIR/data" "$STATE_DIR/pids" "$STATE_DIR/logs"

# A client certificate of its own, and RBAC that lets it read pods and nothing else.
if [ ! -f "$DIR/client.crt" ] || ! openssl verify -CAfile "$PKI/ca.crt" "$DIR/client.crt" >/dev/null 2>&1; then
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=testbed-prometheus" \
    -keyout "$DIR/client.key" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 8)" -days 30 \
      -extfile "$PKI/openssl.cnf" -extensions client -out "$DIR/client.crt" 2>/dev/null
  chmod 600 "$DIR/client.key"
fi
"$TESTBED_BIN/kubectl" --kubeconfig "$STATE_DIR/kubeconfig" apply -f - -o name >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: testbed-prometheus
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: testbed-prometheus
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: testbed-prometheus
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: testbed-prometheus
YAML

node_regex=$(tr -s ' ' '\n' <<<"$NODES" | sed '/^$/d; s/\./\\\\./g' | paste -sd'|')
cp "$RULES" "$DIR/rules.yaml"
cat >"$DIR/prometheus.yml" <<YAML
global:
  scrape_interval: $INTERVAL
  scrape_timeout: $INTERVAL
  evaluation_interval: $INTERVAL
rule_files:
  - $DIR/rules.yaml
scrape_configs:
  - job_name: testbed-pods
    kubernetes_sd_configs:
      - role: pod
        api_server: https://127.0.0.1:$(<"$STATE_DIR/apiserver-port")
        tls_config: &tls
          ca_file: $PKI/ca.crt
          cert_file: $DIR/client.crt
          key_file: $DIR/client.key
    relabel_configs:
      # Only the process nodes' pods are real; kwok's pod IPs are unreachable.
      - source_labels: [__meta_kubernetes_pod_node_name]
        regex: "$node_regex"
        action: keep
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: "true"
        action: keep
      - source_labels: [__meta_kubernetes_pod_phase]
        regex: Running
        action: keep
      - source_labels: [__meta_kubernetes_pod_ip, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: "(.+);([0-9]+)"
        replacement: "\$1:\$2"
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        regex: "(.+)"
        target_label: __metrics_path__
      # The labels a PodMonitor's targets carry, which the dashboard and the alerts select on.
      - action: labelmap
        regex: __meta_kubernetes_pod_label_(.+)
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_container_name]
        target_label: container
      - source_labels: [__meta_kubernetes_pod_node_name]
        target_label: node
YAML

rm -f "$PROMETHEUS_PID_FILE"
# shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PROMETHEUS_PID_FILE" "$PROMETHEUS" \
  --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
  --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
  </dev/null >>"$STATE_DIR/logs/prometheus.log" 2>&1 9<&- 8<&- &
endpoint="http://127.0.0.1:$PROMETHEUS_PORT"
deadline=$((SECONDS + ${TESTBED_PROMETHEUS_TIMEOUT:-60}))
until curl -sf --max-time 2 "$endpoint/-/ready" >/dev/null 2>&1; do
  if { [ -f "$PROMETHEUS_PID_FILE" ] && ! prometheus_pid >/dev/null; } || ((SECONDS > deadline)); then
    echo "prometheus: not ready at $endpoint; the end of $STATE_DIR/logs/prometheus.log:" >&2
    tail -n 20 "$STATE_DIR/logs/prometheus.log" >&2
    "$TESTBED_DIR/prometheus/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.2
done
echo "$endpoint" >"$DIR/endpoint"
echo "prometheus: scraping annotated pods on $NODES at $endpoint (pid $(prometheus_pid))"
