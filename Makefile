# The README's two commands are the contract: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(STAMP): pyproject.toml
	@start=$$(date +%s); \
	  { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } && \
	  $(BIN)/pip install --quiet --upgrade pip && \
	  $(BIN)/pip install --quiet -e '.[dev]' && \
	  rm -f $(VENV)/.installed-* && touch $@ && \
	  echo "venv: the project and its dev tools installed in $$(( $$(date +%s) - start ))s"

.PHONY: venv
venv: $(STAMP) ## create the virtual environment from pyproject.toml

.PHONY: crds
crds: venv ## regenerate crds/ (and the chart's copy) from the pydantic models
	$(BIN)/python -m inference_operator.api.write_crds

.PHONY: monitoring
monitoring: venv ## regenerate the TensorRT-LLM rules and dashboard targets of charts/inference-operator/files from the recipe table
	$(BIN)/python -m inference_operator.metrics.write_monitoring

.PHONY: manifests
manifests: venv testbed monitoring ## regenerate the chart's TensorRT-LLM monitoring files (`make monitoring`), manifests/install.yaml (from the chart) and docs/argocd/argocd-cm.yaml
	bash hack/gen-manifests.sh
	$(BIN)/python hack/gen_argocd_cm.py

.PHONY: lint
lint: venv testbed ## ruff, mypy --strict, layer contracts (import-linter), complexity (radon), helm lint (each ci/ values file), kube-score (lint/kube-score-accepted.yaml)
	$(BIN)/ruff check operator tests $(wildcard bench) testbed/agent hack/kube_score_lint.py
	$(BIN)/mypy --strict
	$(BIN)/mypy --strict hack/kube_score_lint.py
	$(BIN)/lint-imports
	@over="$$($(BIN)/radon cc --min D --show-complexity operator tests $(wildcard bench) testbed/agent)"; \
	  if [ -n "$$over" ]; then echo "complexity above C (radon cc > 20):"; echo "$$over"; exit 1; fi
	bash hack/lint-chart.sh
	$(BIN)/python hack/kube_score_lint.py

.PHONY: unit
unit: venv ## unit tests only (no cluster)
	$(BIN)/pytest -n auto -m 'not e2e' tests

.PHONY: testbed
testbed: ## build the test bed's binaries from Go modules (cached)
	bash testbed/build.sh

.PHONY: testbed-up
testbed-up: testbed ## start the embedded control plane (kubeconfig: .testbed/kubeconfig)
	bash testbed/up.sh

.PHONY: testbed-down
testbed-down: ## stop the embedded control plane and remove its data
	bash testbed/down.sh

.PHONY: engine
engine: ## the test bed's real parts: vLLM's CPU build, the generated model, the Hub mirror, the S3 store, Prometheus (cached; docs/testbed-engine.md)
	bash testbed/engine/install.sh
	bash testbed/engine/modelopt.sh
	bash testbed/model/build.sh
	bash testbed/hub/install.sh
	bash testbed/s3/install.sh
	bash testbed/prometheus/build.sh

.PHONY: prepare
prepare: venv ## everything the tests need, built once and cached: `testbed` and `engine`, downloads beside builds
	bash hack/prepare.sh

# One tier after the other, each timed: the unit tier on every core (pytest-xdist), then the e2e tier in the lanes
# of hack/e2e.sh (real engines beside the simulated nodes' tests on one shared test bed, then the tests that must
# run alone; each lane listing its 25 slowest steps). Both tiers run even when the first fails, and either failing
# fails the target. pytest's exit code 5 (no test collected) is a failure too.
.PHONY: test
test: prepare lint ## every test: lint, unit and e2e on the embedded control plane (real vLLM on its process nodes)
	@code=0; \
	  start=$$(date +%s); $(BIN)/pytest -m 'not e2e' -n auto tests; rc=$$?; \
	  echo "test: unit tier: exit $$rc in $$(( $$(date +%s) - start ))s"; [ $$rc -eq 0 ] || code=1; \
	  start=$$(date +%s); bash hack/e2e.sh; rc=$$?; \
	  echo "test: e2e tier: exit $$rc in $$(( $$(date +%s) - start ))s"; [ $$rc -eq 0 ] || code=1; \
	  exit $$code

.PHONY: e2e
e2e: venv testbed ## the e2e tier alone, in its lanes (hack/e2e.sh; ARGS are passed to each lane's pytest)
	bash hack/e2e.sh $(ARGS)

.PHONY: chaos
chaos: venv testbed ## the chaos tests alone, on a private test bed (also part of `make test`; docs/reliability.md)
	$(BIN)/pytest -s tests/e2e/test_chaos.py

.PHONY: demo
demo: venv testbed ## run the operator on the embedded cluster with the samples
	bash hack/demo.sh

.PHONY: demo-down
demo-down: ## stop the demo's operator and the embedded cluster
	bash hack/demo.sh down

.PHONY: bench
bench: venv testbed ## fleet benchmark at N=100 and 1000, three rounds each, on a test bed of its own (docs/benchmarks.md)
	BENCH_REPEAT=3 $(BIN)/python -m bench.fleet

.PHONY: bench-scale
bench-scale: venv testbed ## issue 19's figures: N=1000 and 10000, 3 rounds, restart, edits under churn, KServe beside
	bash bench/peer/kserve/build.sh
	$(BIN)/python -m bench.fleet --sizes 1000,10000 --repeat 3 --restart --churn-rate 10 --churn-seconds 300 \
	  --peer kserve --bed-per-half --label "issue 19: scale, restart, churn, peer"

.PHONY: bench-peer
bench-peer: venv testbed ## the benchmark with KServe v0.15.0 (RawDeployment) timed beside it, built from Go modules
	bash bench/peer/kserve/build.sh
	$(BIN)/python -m bench.fleet --peer kserve

.PHONY: bench-small
bench-small: venv testbed ## the benchmark at N=20 with a short idle window; results stay in .testbed-bench/
	$(BIN)/python -m bench.fleet --sizes 20 --idle-seconds 10 --no-docs \
	  --output .testbed-bench/small/latest.json --plots-dir .testbed-bench/small
