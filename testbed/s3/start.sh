#!/usr/bin/env bash
# Starts the test bed's S3-compatible store: `weed server -s3` on $TESTBED_S3_PORT (default 20333), on the host's
# address on the pods' bridge (agent/gateway) when the node agent runs, else loopback; keys from procs.sh
# (anonymous requests are refused, so the download Job's signing is exercised). Writes the endpoint URL to
# $STATE_DIR/s3/endpoint; weed's Prometheus metrics (request counts) on S3_METRICS_PORT. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/s3/procs.sh"

[ -f "$S3_VENV/.complete" ] || { echo "s3: seaweedfs is not installed; run testbed/s3/install.sh" >&2; exit 1; }
[[ $S3_PORT =~ ^[0-9]+$ ]] || { echo "s3: TESTBED_S3_PORT must be a port number" >&2; exit 1; }
if pid=$(s3_pid); then
  echo "s3: already running (pid $pid) at $(<"$STATE_DIR/s3/endpoint")"
  exit 0
fi
HOST=$(cat "$STATE_DIR/agent/gateway" 2>/dev/null || echo 127.0.0.1)
[[ $HOST =~ ^[0-9.]+$ ]] || { echo "s3: $STATE_DIR/agent/gateway does not hold an IPv4 address" >&2; exit 1; }
# weed listens on loopback too, and names its unix sockets by port alone (/tmp/seaweedfs-volume-grpc-<port>.sock,
# weed 4.48): a second store on the same ports, of another test bed, would take over the first one's sockets
# (the first one's uploads then fail with "no writable volumes"). So a port taken on either address refuses.
for p in "$S3_PORT" "$S3_MASTER_PORT" "$S3_VOLUME_PORT" "$S3_FILER_PORT" "$S3_METRICS_PORT" \
  $((S3_PORT + 10000)) $((S3_MASTER_PORT + 10000)) $((S3_VOLUME_PORT + 10000)) $((S3_FILER_PORT + 10000)); do
  for addr in "$HOST" 127.0.0.1; do
    if (exec 3<>"/dev/tcp/$addr/$p") 2>/dev/null; then
      echo "s3: port $p on $addr is taken (another test bed's store?); set TESTBED_S3_PORT to a free range" >&2
      exit 1
    fi
  done
done
mkdir -p "$STATE_DIR/pids" "$STATE_DIR/logs" "$STATE_DIR/s3/data"
cat >"$STATE_DIR/s3/identities.json" <<JSON
{"identities": [{"name": "testbed", "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
  "actions": ["Admin", "Read", "List", "Write"]}]}
JSON
rm -f "$S3_PID_FILE"
# shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$S3_PID_FILE" "$S3_VENV/bin/weed" server \
  -ip="$HOST" -ip.bind="$HOST" -dir="$STATE_DIR/s3/data" -master.port="$S3_MASTER_PORT" \
  -volume.port="$S3_VOLUME_PORT" -volume.max=64 -master.volumeSizeLimitMB=64 -filer.port="$S3_FILER_PORT" \
  -metricsPort="$S3_METRICS_PORT" \
  -s3 -s3.port="$S3_PORT" -s3.config="$STATE_DIR/s3/identities.json" \
  </dev/null >>"$STATE_DIR/logs/s3.log" 2>&1 9<&- 8<&- &
endpoint="http://$HOST:$S3_PORT"
deadline=$((SECONDS + ${TESTBED_S3_TIMEOUT:-90}))
# Any HTTP answer of the S3 port (403 for an unsigned request) means it serves.
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$endpoint/" 2>/dev/null)" != "000" ]; do
  if ! s3_pid >/dev/null || ((SECONDS > deadline)); then
    echo "s3: weed did not answer on $endpoint; the end of $STATE_DIR/logs/s3.log:" >&2
    tail -n 20 "$STATE_DIR/logs/s3.log" >&2
    "$TESTBED_DIR/s3/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "$endpoint" >"$STATE_DIR/s3/endpoint"
echo "s3: seaweedfs $SEAWEEDFS_VERSION serving S3 at $endpoint (pid $(s3_pid))"
