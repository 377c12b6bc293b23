#!/usr/bin/env bash
# Installs olah (a self-hosted Hugging Face Hub mirror, from PyPI) into a venv of its own, cached by the
# pinned dependency closure in requirements.txt. Idempotent and locked (lib.sh, install_locked_venv).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"

fill_hub_venv() {
  "$1/bin/python" -m pip --disable-pip-version-check --quiet install --no-deps -r "$TESTBED_DIR/hub/requirements.txt"
  "$1/bin/python" -m pip --disable-pip-version-check --quiet check
  "$1/bin/python" -c "import olah.server" || { echo "hub: olah $OLAH_VERSION does not import" >&2; exit 1; }
}

install_locked_venv hub "olah $OLAH_VERSION" "$HUB_VENV" fill_hub_venv
