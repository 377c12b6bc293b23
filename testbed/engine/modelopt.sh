#!/usr/bin/env bash
# Installs nvidia-modelopt (NVIDIA Model Optimizer, PyPI) into a venv of its own beside the engine venv, cached by
# version ($MODELOPT_VENV, see env.sh). The operator's quantization script (render/quantize_job.py) is checked
# against it and run with it on the generated model, on CPU (tests/unit/render/test_quantize_script.py).
#
# torch and transformers come from the engine venv (a .pth line: no second 6 GB torch); modelopt goes in with
# --no-deps, then the few modules `modelopt.torch.quantization`, `.export` and `.utils.dataset_utils` import that
# the engine venv lacks (omegaconf, pulp, scipy, seen missing by importing them one by one; pinned at the
# versions first installed).
# Idempotent, locked like install.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"

[ -f "$ENGINE_VENV/.complete" ] || bash "$TESTBED_DIR/engine/install.sh"
mkdir -p "$ENGINE_CACHE"
exec 9>"$MODELOPT_VENV.lock"
flock -w 3600 9 || { echo "modelopt: $MODELOPT_VENV.lock still held after an hour" >&2; exit 1; }
if [ -f "$MODELOPT_VENV/.complete" ]; then
  echo "modelopt: nvidia-modelopt $MODELOPT_VERSION already installed"
  exit 0
fi
start=$SECONDS
rm -rf "$MODELOPT_VENV"
"$ENGINE_PYTHON" -m venv --without-pip "$MODELOPT_VENV.partial" 2>/dev/null || "${PYTHON:-python3}" -m venv "$MODELOPT_VENV.partial"
site=$("$MODELOPT_VENV.partial/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
engine_site=$("$ENGINE_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$engine_site" >"$site/engine-venv.pth"
pip=("$ENGINE_PYTHON" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --no-deps --target "$site" "nvidia-modelopt==$MODELOPT_VERSION" \
  omegaconf==2.4.0 pulp==3.3.2 scipy==1.17.1
"$MODELOPT_VENV.partial/bin/python" -c \
  "import modelopt.torch.quantization, modelopt.torch.export, modelopt.torch.utils.dataset_utils" 2>/dev/null || {
  echo "modelopt: nvidia-modelopt $MODELOPT_VERSION installed but does not import (run the line above)" >&2
  exit 1
}
mv "$MODELOPT_VENV.partial" "$MODELOPT_VENV"
grep -rlI --null "$MODELOPT_VENV.partial" "$MODELOPT_VENV/bin" | xargs -0 -r sed -i "s#$MODELOPT_VENV.partial#$MODELOPT_VENV#g"
touch "$MODELOPT_VENV/.complete"
echo "modelopt: nvidia-modelopt $MODELOPT_VERSION installed in $((SECONDS - start))s"
