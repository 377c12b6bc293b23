#!/usr/bin/env bash
# Builds the peer of the fleet bench: KServe's controller manager (github.com/kserve/kserve v0.15.0,
# cmd/manager) from Go modules, and copies the release's two Helm charts (CRDs, and the manager's resources)
# out of the module. Cached by go.mod + go.sum; a second run takes a second. Not part of `make test`.
set -euo pipefail
source "$(dirname "$0")/../../../testbed/lib.sh"
source "$(dirname "$0")/env.sh"

command -v go >/dev/null 2>&1 || { echo "kserve: Go is not installed" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$KSERVE_CACHE/bin"
exec 9>"$KSERVE_CACHE/.lock"
flock 9
cd "$PEER_DIR/tools"
version=$(go list -m -f '{{.Version}}' github.com/kserve/kserve)
if [ ! -x "$KSERVE_CACHE/bin/kserve-manager" ]; then
  t0=$SECONDS
  echo "kserve: building the controller manager $version ..."
  go build -trimpath -ldflags "-s -w" -o "$KSERVE_CACHE/bin/kserve-manager.tmp" github.com/kserve/kserve/cmd/manager
  mv "$KSERVE_CACHE/bin/kserve-manager.tmp" "$KSERVE_CACHE/bin/kserve-manager"
  echo "kserve: built in $((SECONDS - t0))s"
fi
if [ ! -f "$KSERVE_CACHE/charts/kserve-resources/Chart.yaml" ]; then
  dir=$(go list -m -f '{{.Dir}}' github.com/kserve/kserve)
  rm -rf "$KSERVE_CACHE/charts.tmp" && mkdir -p "$KSERVE_CACHE/charts.tmp"
  cp -r "$dir/charts/kserve-crd" "$dir/charts/kserve-resources" "$KSERVE_CACHE/charts.tmp/"
  chmod -R u+w "$KSERVE_CACHE/charts.tmp"
  rm -rf "$KSERVE_CACHE/charts" && mv "$KSERVE_CACHE/charts.tmp" "$KSERVE_CACHE/charts"
fi
echo "kserve: $version ready in $KSERVE_CACHE"
