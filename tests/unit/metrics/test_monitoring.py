"""The PodMonitor and the operator's own metrics (issue 7). Alerts and dashboard: test_monitoring_rules.py."""

from __future__ import annotations

import re
import socket
import urllib.request
from typing import Any

import pytest
from prometheus_client import REGISTRY as GLOBAL_REGISTRY

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.labels import LABEL_DEPLOYMENT, LABEL_ENGINE, LABEL_MODEL, PORT_NAME
from inference_operator.api.settings import StoreSettings
from inference_operator.metrics import operator as metrics
from inference_operator.metrics.engines import TRTLLM_METRICS_PATH, VLLM_METRICS_PATH
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import render_engine_build
from inference_operator.render.podmonitor import (
    TARGET_DEPLOYMENT,
    TARGET_ENGINE,
    TARGET_MODEL,
    render_pod_monitor,
    target_label_name,
)
from inference_operator.render.trtllm import render_trtllm_deployment
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.samples import TEST_NAMESPACE, TEST_UID, load_sample, sample_body

TRTLLM_SAMPLE = "llama-3-1-70b-h100-trtllm"


def trtllm_infd(backend: str) -> InferenceDeployment:
    body = sample_body(TRTLLM_SAMPLE)
    body["spec"]["engine"]["tensorrtLLM"]["backend"] = backend
    return InferenceDeployment.model_validate(body)


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = workload["spec"]["template"]
    return template


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = pod_template(workload)["metadata"]["labels"]
    return labels


def selects(pod_monitor: dict[str, Any], pod_labels: dict[str, str]) -> bool:
    """Whether the PodMonitor's selector picks a pod with these labels."""
    match: dict[str, str] = pod_monitor["spec"]["selector"]["matchLabels"]
    return all(pod_labels.get(key) == value for key, value in match.items())


def endpoints_keeping(pod_monitor: dict[str, Any], pod_labels: dict[str, str]) -> list[dict[str, Any]]:
    """The endpoints whose `keep` relabelings let a pod with these labels through (as Prometheus decides)."""
    meta = {f"__meta_kubernetes_pod_label_{target_label_name(k)}": v for k, v in pod_labels.items()}
    kept = []
    for endpoint in pod_monitor["spec"]["podMetricsEndpoints"]:
        keeps = [r for r in endpoint["relabelings"] if r["action"] == "keep"]
        assert keeps, "every endpoint must keep only its own engine's pods"
        if all(re.fullmatch(r["regex"], ";".join(meta.get(s, "") for s in r["sourceLabels"])) for r in keeps):
            kept.append(endpoint)
    return kept


# --- PodMonitor ---------------------------------------------------------------------------------------------


def test_pod_monitor_is_named_after_and_owned_by_the_resource() -> None:
    infd = load_sample("small-model")
    pm = render_pod_monitor(infd)
    assert (pm["apiVersion"], pm["kind"]) == ("monitoring.coreos.com/v1", "PodMonitor")
    assert pm["metadata"]["name"] == infd.metadata["name"]
    assert pm["metadata"]["namespace"] == TEST_NAMESPACE
    (owner,) = pm["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("InferenceDeployment", TEST_UID, True)
    assert render_pod_monitor(infd) == pm, "render must be deterministic"


def test_selects_the_serving_pods_of_both_engines_but_not_build_pods_or_other_resources() -> None:
    infd = trtllm_infd("engine")
    store = StoreSettings()
    pm = render_pod_monitor(infd)
    vllm_pod = pod_labels(render_vllm_deployment(infd))
    trtllm_pod = pod_labels(render_trtllm_deployment(infd, "some-build", store))
    build_body = render_engine_build(infd, store)
    build_body["metadata"]["uid"] = "00000000-0000-4000-8000-000000000002"
    build_pod = pod_labels(render_build_job(EngineBuild.model_validate(build_body), store))
    other = sample_body(TRTLLM_SAMPLE)
    other["metadata"]["name"] = "another-deployment"
    other_pod = pod_labels(render_vllm_deployment(InferenceDeployment.model_validate(other)))

    assert selects(pm, vllm_pod)
    assert selects(pm, trtllm_pod)
    assert not selects(pm, build_pod), "build Job pods must never be scraped as serving pods"
    assert not selects(pm, other_pod)


def test_interval_comes_from_the_spec() -> None:
    body = sample_body(TRTLLM_SAMPLE)
    body["spec"]["monitoring"] = {"enabled": True, "interval": "15s"}
    body["spec"]["engine"]["tensorrtLLM"]["backend"] = "pytorch"
    endpoints = render_pod_monitor(InferenceDeployment.model_validate(body))["spec"]["podMetricsEndpoints"]
    assert len(endpoints) == 2
    assert {e["interval"] for e in endpoints} == {"15s"}
    defaults = render_pod_monitor(load_sample("small-model"))["spec"]["podMetricsEndpoints"]
    assert {e["interval"] for e in defaults} == {"30s"}


def test_each_engine_is_scraped_on_its_prometheus_path_and_port() -> None:
    infd = trtllm_infd("pytorch")
    pm = render_pod_monitor(infd)
    vllm_deployment = render_vllm_deployment(infd)
    trtllm_deployment = render_trtllm_deployment(infd, None, StoreSettings())
    for deployment, path in ((vllm_deployment, VLLM_METRICS_PATH), (trtllm_deployment, TRTLLM_METRICS_PATH)):
        pod = pod_template(deployment)
        (endpoint,) = endpoints_keeping(pm, pod["metadata"]["labels"])
        assert endpoint["path"] == path
        ports = [p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])]
        assert endpoint["port"] == PORT_NAME in ports


def test_trtllm_endpoint_only_when_trtllm_serve_exposes_prometheus_text() -> None:
    # The engine backend renders without return_perf_metrics, so /prometheus/metrics would 404 (trtllm.py).
    paths = [e["path"] for e in render_pod_monitor(trtllm_infd("engine"))["spec"]["podMetricsEndpoints"]]
    assert paths == [VLLM_METRICS_PATH]
    assert TRTLLM_METRICS_PATH != "/metrics", "trtllm-serve's /metrics is JSON, never scrape it"


def test_the_podmonitor_renames_no_series() -> None:
    # Series keep the engine's own names, as when pods are scraped by annotation: the dashboard and alerts
    # query those names (metrics/engines.py), so a rename here would make them match in one mode only.
    for backend in ("engine", "pytorch"):
        for endpoint in render_pod_monitor(trtllm_infd(backend))["spec"]["podMetricsEndpoints"]:
            assert "metricRelabelings" not in endpoint, endpoint


def test_targets_carry_deployment_model_and_engine_labels() -> None:
    pm = render_pod_monitor(load_sample("small-model"), {"release": "kube-prometheus-stack"})
    assert pm["spec"]["podTargetLabels"] == [LABEL_DEPLOYMENT, LABEL_MODEL, LABEL_ENGINE]
    assert (TARGET_DEPLOYMENT, TARGET_MODEL, TARGET_ENGINE) == (
        "inference_operator_dev_deployment",
        "inference_operator_dev_model",
        "inference_operator_dev_engine",
    )
    assert pm["metadata"]["labels"]["release"] == "kube-prometheus-stack"


# --- The operator's metrics --------------------------------------------------------------------------------


def value(metric: str, /, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(metric, labels)


def test_set_fleet_replaces_counts_and_zeroes_vanished_label_sets() -> None:
    metrics.set_fleet({("Ready", "vllm"): 2, ("Deploying", "tensorrt-llm"): 1}, {"Building": 1})
    assert value("inference_operator_inference_deployments", phase="Ready", engine="vllm") == 2
    assert value("inference_operator_engine_builds", phase="Building") == 1

    metrics.set_fleet({("Ready", "tensorrt-llm"): 3}, {"Succeeded": 1})
    assert value("inference_operator_inference_deployments", phase="Ready", engine="vllm") == 0
    assert value("inference_operator_inference_deployments", phase="Deploying", engine="tensorrt-llm") == 0
    assert value("inference_operator_inference_deployments", phase="Ready", engine="tensorrt-llm") == 3
    assert value("inference_operator_engine_builds", phase="Building") == 0
    assert value("inference_operator_engine_builds", phase="Succeeded") == 1
    assert value("inference_operator_inference_deployments", phase="Pending", engine="none") == 0


def test_set_fleet_rejects_unbounded_values_without_touching_the_gauges() -> None:
    metrics.set_fleet({("Ready", "vllm"): 4}, {})
    with pytest.raises(ValueError, match="phase"):
        metrics.set_fleet({("Sleeping", "vllm"): 1}, {})
    with pytest.raises(ValueError, match="engine"):
        metrics.set_fleet({("Ready", "llama.cpp"): 1}, {})
    assert value("inference_operator_inference_deployments", phase="Ready", engine="vllm") == 4


def test_resource_ready_follows_engine_changes_and_deletion() -> None:
    ns, name, ready = "monitoring-test", "ready-resource", "inference_operator_inference_deployment_ready"
    metrics.set_resource_ready(ns, name, None, False)
    assert value(ready, namespace=ns, name=name, engine="none") == 0
    metrics.set_resource_ready(ns, name, "vllm", True)
    metrics.set_resource_ready(ns, name, "tensorrt-llm", True)
    assert value(ready, namespace=ns, name=name, engine="vllm") is None
    assert value(ready, namespace=ns, name=name, engine="none") is None
    assert value(ready, namespace=ns, name=name, engine="tensorrt-llm") == 1
    metrics.forget_resource(ns, name)
    assert value(ready, namespace=ns, name=name, engine="tensorrt-llm") is None
    metrics.forget_resource(ns, name)  # forgetting twice is harmless


def test_build_state_exports_timing_only_while_building() -> None:
    ns, name = "monitoring-test", "llama-build"
    metrics.set_build_state(ns, name, "Building", started_at=1_700_000_000.0, expected_seconds=3600.0)
    assert value("inference_operator_engine_build_phase", namespace=ns, name=name, phase="Building") == 1
    assert value("inference_operator_engine_build_start_time_seconds", namespace=ns, name=name) == 1.7e9
    assert value("inference_operator_engine_build_expected_seconds", namespace=ns, name=name) == 3600
    metrics.set_build_state(ns, name, "Failed")
    assert value("inference_operator_engine_build_phase", namespace=ns, name=name, phase="Building") is None
    assert value("inference_operator_engine_build_phase", namespace=ns, name=name, phase="Failed") == 1
    assert value("inference_operator_engine_build_start_time_seconds", namespace=ns, name=name) is None
    assert value("inference_operator_engine_build_expected_seconds", namespace=ns, name=name) is None
    metrics.forget_build(ns, name)
    assert value("inference_operator_engine_build_phase", namespace=ns, name=name, phase="Failed") is None


def test_counters_and_histograms_record() -> None:
    def reconciles() -> float:
        return value("inference_operator_reconciles_total", kind="EngineBuild", result="error") or 0.0

    before = reconciles()
    metrics.record_reconcile("EngineBuild", "error", 0.2)
    assert reconciles() == before + 1
    assert (value("inference_operator_reconcile_duration_seconds_count", kind="EngineBuild") or 0) >= 1

    writes = value("inference_operator_api_writes_total", verb="apply", kind="PodMonitor") or 0.0
    metrics.record_api_write("apply", "PodMonitor")
    assert value("inference_operator_api_writes_total", verb="apply", kind="PodMonitor") == writes + 1

    in_ten_minutes = value("inference_operator_engine_build_duration_seconds_bucket", le="600.0") or 0.0
    metrics.observe_build_duration(400)
    assert value("inference_operator_engine_build_duration_seconds_bucket", le="600.0") == in_ten_minutes + 1

    for code in metrics.SELECTION_REASONS:
        metrics.record_selection("vllm", code)
        assert (value("inference_operator_engine_selections_total", engine="vllm", reason=code) or 0) >= 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.record_reconcile("EngineBuild", "oops", 1),
        lambda: metrics.record_reconcile("llama-70b-in-namespace-ml", "success", 1),
        lambda: metrics.record_api_write("get", "Deployment"),
        lambda: metrics.record_selection("vllm", "BecauseISaidSo"),
        lambda: metrics.record_selection("none", "Explicit"),
        lambda: metrics.set_build_state("ns", "b", "Compiling"),
    ],
)
def test_helpers_reject_label_values_outside_their_bounded_sets(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


def test_metric_names_carry_the_operator_prefix_and_use_their_own_registry() -> None:
    names = metrics.exposed_metric_names()
    ours = {n for n in names if not n.startswith("process_")}
    assert ours and all(n.startswith("inference_operator_") for n in ours)
    assert "inference_operator_reconciles_total" in names
    assert "inference_operator_engine_build_duration_seconds_bucket" in names
    assert GLOBAL_REGISTRY.get_sample_value("inference_operator_reconciles_total", {}) is None


def test_metrics_server_serves_the_operator_registry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.start_metrics_server(port)
    metrics.record_api_write("delete", "Job")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    assert 'inference_operator_api_writes_total{kind="Job",verb="delete"}' in body
    assert "python_gc_objects_collected_total" not in body, "the global registry must not leak in"
