#!/usr/bin/env bash
# Regenerates the wrapper modules under tools/ from versions.env. Run it after bumping a version, then commit
# the go.mod and go.sum files it writes. Each tool has a module of its own because their dependency graphs
# (kwok and Helm follow newer client-go releases than the pinned Kubernetes) cannot share one build list.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
export GOFLAGS=-mod=mod

write_module() {  # dir module-path
  printf 'module %s\n\ngo 1.26.0\n' "$2" > "$1/go.mod"
}

# Kubernetes: its go.mod replaces every k8s.io staging module with ./staging/..., which Go ignores in a
# dependency. Replace each with its published v0.Y.Z tag instead, generated from the release's own go.mod.
k8s_dir="$here/tools/kubernetes"
write_module "$k8s_dir" inference-operator.dev/testbed/kubernetes
k8s_mod=$(cd "$k8s_dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
staging_tag="v0.${K8S_VERSION#v1.}"
{
  grep -E '^godebug ' "$k8s_mod" || true
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*$#\t\1 => \1 '"$staging_tag"'#p' "$k8s_mod"
  echo ")"
} >> "$k8s_dir/go.mod"
(cd "$k8s_dir" && go mod tidy)

etcd_dir="$here/tools/etcd"
write_module "$etcd_dir" inference-operator.dev/testbed/etcd
(cd "$etcd_dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy)

kwok_dir="$here/tools/kwok"
write_module "$kwok_dir" inference-operator.dev/testbed/kwok
(cd "$kwok_dir" && go get "sigs.k8s.io/kwok@$KWOK_VERSION" && go mod tidy)

helm_dir="$here/tools/helm"
write_module "$helm_dir" inference-operator.dev/testbed/helm
(cd "$helm_dir" && go get "helm.sh/helm/v3@$HELM_VERSION" && go mod tidy)
echo "wrapper modules regenerated; commit tools/*/go.mod and tools/*/go.sum"
