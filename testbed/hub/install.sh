#!/usr/bin/env bash
# Installs olah (a self-hosted Hugging Face Hub mirror, from PyPI) into a venv of its own, cached by the
# pinned dependency closure in requirements.txt. Idempotent; a failed run leaves no .complete and the next
# run starts that venv again from scratch.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"

if [ -f "$HUB_VENV/.complete" ]; then
  echo "hub: olah $OLAH_VERSION already installed"
  exit 0
fi
mkdir -p "${HUB_VENV%/*}"
exec 8>"$HUB_VENV.lock"
flock -w 900 8 || { echo "hub: another install of olah holds $HUB_VENV.lock" >&2; exit 1; }
[ -f "$HUB_VENV/.complete" ] && exit 0
start=$SECONDS
rm -rf "$HUB_VENV"
"${PYTHON:-python3}" -m venv "$HUB_VENV"
"$HUB_VENV/bin/python" -m pip --disable-pip-version-check --quiet install --no-deps \
  -r "$TESTBED_DIR/hub/requirements.txt"
"$HUB_VENV/bin/python" -m pip --disable-pip-version-check --quiet check
"$HUB_VENV/bin/python" -c "import olah.server" || { echo "hub: olah $OLAH_VERSION does not import" >&2; exit 1; }
touch "$HUB_VENV/.complete"
echo "hub: olah $OLAH_VERSION installed in $((SECONDS - start))s ($(du -sh "$HUB_VENV" | cut -f1))"
