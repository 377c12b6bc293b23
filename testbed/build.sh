#!/usr/bin/env bash
# Builds the test bed's binaries from the pinned Go modules into a cache keyed by the pinned versions.
# Binaries already there are skipped, so a second run takes a second.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v go >/dev/null 2>&1 || {
  echo "testbed: Go is not installed; install Go 1.26 or newer (it builds the control plane from modules)" >&2
  exit 1
}
mkdir -p "$TESTBED_BIN" "$CHECKS_BIN" "$ADAPTER_BIN"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
start_all=$SECONDS
build_date=$(date -u -d "@$(git -C "$REPO_DIR" log -1 --format=%ct 2>/dev/null || echo 0)" +%Y-%m-%dT%H:%M:%SZ)

fetch() {  # module dir: download its dependencies, with a clear message when the proxy is out of reach
  if ! (cd "$TESTBED_DIR/tools/$1" && go mod download 2>"$TESTBED_CACHE/download-$1.log"); then
    echo "testbed: could not download the Go modules for $1 (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY)); see $TESTBED_CACHE/download-$1.log" >&2
    exit 1
  fi
}

build() {  # tool-module binary-name package ldflags [output-dir]
  local mod=$1 name=$2 pkg=$3 ldflags=${4:-} out=${5:-$TESTBED_BIN}
  if [ -x "$out/$name" ]; then
    echo "testbed: $name already built"
    return
  fi
  local t0=$SECONDS
  echo "testbed: building $name ($pkg) ..."
  (cd "$TESTBED_DIR/tools/$mod" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "testbed: built $name in $((SECONDS - t0))s"
}

k8s_minor=${K8S_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

mkdir -p "$TESTBED_CACHE"
for m in $CONTROL_PLANE_MODULES $CHECK_MODULES prometheus-adapter lws; do fetch "$m"; done
build etcd etcd go.etcd.io/etcd/server/v3
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kubernetes kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
build kubernetes kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
build kubernetes kubectl k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build helm helm helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
# The checkers (tests/support/gitops_tools.py, `make lint`): kstatus and argolua are ours, built on the pinned libraries.
build kstatus kstatus . "" "$CHECKS_BIN"
build argolua argolua . "" "$CHECKS_BIN"
ks_version=$(cd "$TESTBED_DIR/tools/kube-score" && go list -m -f '{{.Version}}' github.com/zegl/kube-score)
build kube-score kube-score github.com/zegl/kube-score/cmd/kube-score "-X main.version=$ks_version" "$CHECKS_BIN"
echo "testbed: checkers ready in $CHECKS_BIN"
# The custom metrics API for the real HPA controller (testbed/metrics-adapter, docs/testbed-engine.md).
adapter_version=$(cd "$TESTBED_DIR/tools/prometheus-adapter" && go list -m -f '{{.Version}}' sigs.k8s.io/prometheus-adapter)
build prometheus-adapter prometheus-adapter sigs.k8s.io/prometheus-adapter/cmd/adapter \
  "-X k8s.io/component-base/version.gitVersion=$adapter_version" "$ADAPTER_BIN"
# The LeaderWorkerSet controller manager and, beside it, the release's Helm chart (its CRD, webhook configurations,
# RBAC), which testbed/lws/start.sh installs; nothing of it is committed here.
lws_version=$(cd "$TESTBED_DIR/tools/lws" && go list -m -f '{{.Version}}' sigs.k8s.io/lws)
mkdir -p "$LWS_CACHE/bin"
build lws lws-controller sigs.k8s.io/lws/cmd "-X sigs.k8s.io/lws/pkg/version.GitVersion=$lws_version" "$LWS_CACHE/bin"
if [ ! -f "$LWS_CACHE/chart/Chart.yaml" ]; then
  lws_dir=$(cd "$TESTBED_DIR/tools/lws" && go list -m -f '{{.Dir}}' sigs.k8s.io/lws)
  rm -rf "$LWS_CACHE/chart.tmp" && cp -r "$lws_dir/charts/lws" "$LWS_CACHE/chart.tmp" && chmod -R u+w "$LWS_CACHE/chart.tmp"
  mv "$LWS_CACHE/chart.tmp" "$LWS_CACHE/chart"
fi
echo "testbed: LeaderWorkerSet $lws_version ready in $LWS_CACHE"
echo "testbed: binaries ready in $TESTBED_BIN ($((SECONDS - start_all))s)"
