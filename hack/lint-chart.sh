#!/usr/bin/env bash
# `helm lint --strict` of the chart with each values file a user would start from (charts/inference-operator/ci/:
# default, HA, monitoring, namespaced, NetworkPolicy). Part of `make lint`; hack/kube_score_lint.py scores them.
set -euo pipefail
cd "$(dirname "$0")/.."
helm=${HELM:-"$(bash testbed/bin-path.sh)/helm"}
[ -x "$helm" ] || { echo "lint-chart: helm not found at $helm; run 'make testbed' or set HELM" >&2; exit 1; }
shopt -s nullglob
files=(charts/inference-operator/ci/*-values.yaml)
[ ${#files[@]} -gt 0 ] || { echo "lint-chart: no values files in charts/inference-operator/ci/" >&2; exit 1; }
for values in "${files[@]}"; do
  if ! out=$("$helm" lint --strict charts/inference-operator --values "$values" 2>&1); then
    echo "lint-chart: helm lint failed with $values:" >&2
    echo "$out" >&2
    exit 1
  fi
done
echo "lint-chart: helm lint --strict passed with ${#files[@]} values files"
