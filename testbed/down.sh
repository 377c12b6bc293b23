#!/usr/bin/env bash
# Stops the test bed started by up.sh and removes its data. Only the processes named by the pid files in
# $STATE_DIR are stopped, and only when each pid still is that binary, started for this state dir.
# Idempotent: with nothing running it only clears what is left.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=procs.sh
source "$TESTBED_DIR/procs.sh"
lock_testbed

start=$SECONDS
instance=$(cat "$STATE_DIR/apiserver-port" 2>/dev/null || echo "${TESTBED_APISERVER_PORT:-26443}")
# The real engine's neighbours first (they read the API server and serve the pods).
bash "$TESTBED_DIR/metrics-adapter/stop.sh"
bash "$TESTBED_DIR/prometheus/stop.sh"
bash "$TESTBED_DIR/hub/stop.sh"
bash "$TESTBED_DIR/s3/stop.sh"
bash "$TESTBED_DIR/lws/stop.sh"
stop_all_components
# The node agent removes its pods' processes, namespaces, bridge and mounts when it stops; check that it did.
leftovers=$(agent_leftovers "$instance")
if [ -n "$leftovers" ]; then
  echo "testbed: the node agent left behind (removing it now):"
  echo "$leftovers" | sed 's/^/  /'
  clean_agent_leftovers "$instance"
  leftovers=$(agent_leftovers "$instance")
  [ -z "$leftovers" ] || { echo "testbed: still there after cleanup:" >&2; echo "$leftovers" >&2; }
else
  echo "testbed: the node agent left nothing behind (no process, netns, bridge or mount)"
fi
rm -rf "$STATE_DIR/etcd" "$STATE_DIR/pki" "$STATE_DIR/logs" "$STATE_DIR/pids" "$STATE_DIR/run" "$STATE_DIR/agent" \
  "$STATE_DIR/kubeconfigs" "$STATE_DIR/kubeconfig" "$STATE_DIR/apiserver-port" "$STATE_DIR/hub" "$STATE_DIR/s3" "$STATE_DIR/prometheus" \
  "$STATE_DIR/metrics-adapter" "$STATE_DIR/lws"
# The state dir itself goes when nothing else (a demo's files, say) was put there.
rmdir "$STATE_DIR" 2>/dev/null || true
echo "testbed: down ($((SECONDS - start))s)"
