#!/usr/bin/env bash
# Builds Prometheus from its Go module (tools/go.mod pins github.com/prometheus/prometheus, i.e. Prometheus
# 3.x) with Kubernetes service discovery. Debian's package cannot be used for this: Debian removed Kubernetes
# discovery (its NEWS.Debian, 1.5.0+ds-1), and its 2.42 binary rejects kubernetes_sd_configs.
# Build tags: remove_all_sd drops every discovery plugin but the minimal ones, enable_kubernetes_sd brings
# Kubernetes back (plugins/*.go in the module); no builtinassets, so no web UI, the HTTP API is whole.
# Cached by the hash of tools/go.mod, go.sum and this script; a second run does nothing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTBED_DIR/engine/env.sh"

command -v go >/dev/null 2>&1 || { echo "prometheus: Go is not installed (install Go 1.26 or newer)" >&2; exit 1; }
if [ -x "$PROMETHEUS_BUILT" ]; then
  echo "prometheus: already built ($PROMETHEUS_BUILT)"
  exit 0
fi
mkdir -p "${PROMETHEUS_BUILT%/*}"
exec 8>"${PROMETHEUS_BUILT%/*}.lock"
flock -w 1800 8 || { echo "prometheus: another build holds the lock" >&2; exit 1; }
[ -x "$PROMETHEUS_BUILT" ] && exit 0
export CGO_ENABLED=0 GOFLAGS=-mod=mod
start=$SECONDS
version=$(cd "$TESTBED_DIR/prometheus/tools" && go list -m -f '{{.Version}}' github.com/prometheus/prometheus)
echo "prometheus: building github.com/prometheus/prometheus/cmd/prometheus $version with Kubernetes discovery ..."
(cd "$TESTBED_DIR/prometheus/tools" &&
  go build -p 2 -trimpath -tags remove_all_sd,enable_kubernetes_sd \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version-testbed" \
    -o "$PROMETHEUS_BUILT.tmp" github.com/prometheus/prometheus/cmd/prometheus)
mv "$PROMETHEUS_BUILT.tmp" "$PROMETHEUS_BUILT"
echo "prometheus: built in $((SECONDS - start))s ($PROMETHEUS_BUILT)"
