#!/usr/bin/env bash
# Starts the test bed's Hub mirror: olah on $TESTBED_HUB_PORT (default 20280), offline, serving the
# generated model as the git repo inference-operator/tiny-llama (../model/build.sh), and the same repository as
# inference-operator/tiny-llama-weights. Pods reach it with
# HF_ENDPOINT=http://<the host's address on the pods' bridge>:PORT (the operator's INFOP_HF_ENDPOINT setting), the
# way production pods reach a company's mirror.
# pid: $STATE_DIR/pids/hub.pid, log: $STATE_DIR/logs/hub.log, one JSON line per request:
# $STATE_DIR/hub/access.jsonl, the endpoint URL: $STATE_DIR/hub/endpoint. Idempotent. Stop with stop.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"
source "$TESTBED_DIR/hub/procs.sh"

for need in "$HUB_VENV/.complete:olah is not installed" "$MODEL_CACHE/.complete:the model is not built"; do
  [ -f "${need%%:*}" ] || { echo "hub: ${need#*:}; run 'make engine' first" >&2; exit 1; }
done
[[ $HUB_PORT =~ ^[0-9]+$ ]] || { echo "hub: TESTBED_HUB_PORT must be a port number" >&2; exit 1; }
if pid=$(hub_pid); then
  echo "hub: already running (pid $pid) at $(<"$STATE_DIR/hub/endpoint")"
  exit 0
fi
mkdir -p "$STATE_DIR/pids" "$STATE_DIR/logs" "$STATE_DIR/run" "$STATE_DIR/hub/cache" "$STATE_DIR/hub/logs"
# The second repo id (engine/env.sh: WEIGHTS_REPO_ID): a link to the one git repository, in a mirrors-path of
# the bed's own, so that the cached model is never written to.
alias_link="$STATE_DIR/hub/mirrors/models/$WEIGHTS_REPO_ID"
mkdir -p "$(dirname "$alias_link")"
ln -sfn "$MODEL_MIRRORS/models/$MODEL_REPO_ID" "$alias_link"
# With the node agent up, olah listens on the host's address on the pods' bridge (agent/gateway): pods in their
# network namespaces reach the host only there, and nothing outside the machine routes to it. Alone (the unit
# tests), on loopback.
HUB_HOST=$(cat "$STATE_DIR/agent/gateway" 2>/dev/null || echo 127.0.0.1)
[[ $HUB_HOST =~ ^[0-9.]+$ ]] || { echo "hub: $STATE_DIR/agent/gateway does not hold an IPv4 address" >&2; exit 1; }
endpoint="http://$HUB_HOST:$HUB_PORT"
if (exec 3<>"/dev/tcp/$HUB_HOST/$HUB_PORT") 2>/dev/null; then
  echo "hub: port $HUB_PORT on $HUB_HOST is taken by another process; set TESTBED_HUB_PORT to a free port" >&2
  exit 1
fi
# offline: olah never asks upstream. hf-netloc points at the discard port on loopback as well, so a code
# path that ignored `offline` would fail at once instead of waiting for huggingface.co.
cat >"$STATE_DIR/run/hub.toml" <<TOML
[basic]
host = "$HUB_HOST"
port = $HUB_PORT
repos-path = "$STATE_DIR/hub/cache"
mirrors-path = ["$MODEL_MIRRORS", "$STATE_DIR/hub/mirrors"]
hf-scheme = "http"
hf-netloc = "127.0.0.1:9"
hf-lfs-netloc = "127.0.0.1:9"
mirror-scheme = "http"
mirror-netloc = "$HUB_HOST:$HUB_PORT"
mirror-lfs-netloc = "$HUB_HOST:$HUB_PORT"

[accessibility]
offline = true
TOML
: >"$STATE_DIR/hub/access.jsonl"
rm -f "$HUB_PID_FILE"
# shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell
HUB_ACCESS_LOG="$STATE_DIR/hub/access.jsonl" HF_HUB_OFFLINE=1 setsid bash -c 'echo $$ >"$0"; exec "$@"' \
  "$HUB_PID_FILE" "$HUB_VENV/bin/python" "$TESTBED_DIR/hub/serve.py" \
  --config "$STATE_DIR/run/hub.toml" --log-path "$STATE_DIR/hub/logs" \
  </dev/null >>"$STATE_DIR/logs/hub.log" 2>&1 9<&- 8<&- &
deadline=$((SECONDS + ${TESTBED_HUB_TIMEOUT:-60}))
probe="$endpoint/api/models/$MODEL_REPO_ID/revision/main"
until curl -sf --max-time 2 "$probe" >/dev/null 2>&1; do
  if ! hub_pid >/dev/null && [ -f "$HUB_PID_FILE" ] || ((SECONDS > deadline)); then
    echo "hub: olah did not answer $probe; the end of $STATE_DIR/logs/hub.log:" >&2
    tail -n 20 "$STATE_DIR/logs/hub.log" >&2
    "$TESTBED_DIR/hub/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.2
done
echo "$endpoint" >"$STATE_DIR/hub/endpoint"
echo "hub: serving $MODEL_REPO_ID@$(<"$MODEL_CACHE/revision") at $endpoint (pid $(hub_pid))"
