#!/usr/bin/env bash
# Prints the folder of the pinned prometheus-operator release's CRDs, fetched through the Go module proxy
# (the module ships them under example/prometheus-operator-crd/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=monitoring.env
source "$here/monitoring.env"
command -v go >/dev/null 2>&1 || { echo "monitoring-crds: Go is required to fetch the CRDs" >&2; exit 1; }
module="github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
dir=$(cd "$here" && GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir/example/prometheus-operator-crd" ] || { echo "monitoring-crds: $module has no example CRDs" >&2; exit 1; }
echo "$dir/example/prometheus-operator-crd"
