"""The HorizontalPodAutoscaler of spec.autoscaling, and the Deployment it owns the replicas of."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.api.settings import StoreSettings
from inference_operator.render.autoscaler import (
    SignalNotExported,
    engine_series,
    quantity,
    render_hpa,
    replicas_handover,
    seed_replicas,
    seeded,
)
from inference_operator.render.trtllm import render_trtllm_deployment
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.samples import sample_body

SCALING = {
    "minReplicas": 1,
    "maxReplicas": 4,
    "signal": "waitingRequests",
    "targetPerReplica": 2,
    "scaleDownStabilizationSeconds": 120,
}
NEW_TRT = "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc21"


def scaled(sample: str = "small-model", **spec: Any) -> InferenceDeployment:
    body = sample_body(sample)
    body["spec"] = {**body["spec"], "autoscaling": SCALING, **spec}
    return InferenceDeployment.model_validate(body)


def test_the_hpa_in_full() -> None:
    hpa = render_hpa(scaled(), Engine.VLLM)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["name"] == "qwen-small"
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "InferenceDeployment"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "qwen-small-vllm"},
        "minReplicas": 1,
        "maxReplicas": 4,
        "metrics": [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "vllm_num_requests_waiting"},
                    "target": {"type": "AverageValue", "averageValue": "2"},
                },
            }
        ],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}},
    }


def test_render_is_deterministic() -> None:
    assert yaml.safe_dump(render_hpa(scaled(), Engine.VLLM)) == yaml.safe_dump(render_hpa(scaled(), Engine.VLLM))


@pytest.mark.parametrize(
    ("signal", "series"),
    [
        ("waitingRequests", "vllm:num_requests_waiting"),
        ("runningRequests", "vllm:num_requests_running"),
        ("kvCacheUsage", "vllm:kv_cache_usage_perc"),
    ],
)
def test_each_signal_maps_to_the_vllm_gauge(signal: str, series: str) -> None:
    infd = scaled(autoscaling={**SCALING, "signal": signal, "targetPerReplica": 0.5})
    assert engine_series(infd, Engine.VLLM) == series


def test_tensorrt_llm_serves_its_own_series() -> None:
    kv = {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 0.8}
    engine = {"preference": "tensorrt-llm", "tensorrtLLM": {"image": NEW_TRT}}
    infd = scaled("llama-3-1-8b-h100", autoscaling=kv, engine=engine)
    hpa = render_hpa(infd, Engine.TENSORRT_LLM)
    assert hpa["spec"]["scaleTargetRef"]["name"].endswith("-trtllm")
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "trtllm_kv_cache_utilization"
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "800m"


def test_a_series_the_engine_lacks_is_an_error_not_a_guess() -> None:
    # Admission refuses such a spec; a vLLM-only spec rendered for TensorRT-LLM reaches the safety net.
    with pytest.raises(SignalNotExported, match="waitingRequests is not exported by TensorRT-LLM"):
        engine_series(scaled(), Engine.TENSORRT_LLM)


@pytest.mark.parametrize(("value", "text"), [(2, "2"), (0.8, "800m"), (1.5, "1500m"), (0.001, "1m"), (10, "10")])
def test_quantity(value: float, text: str) -> None:
    assert quantity(value) == text


def test_an_autoscaled_deployment_carries_no_replicas() -> None:
    assert "replicas" not in render_vllm_deployment(scaled())["spec"]
    engine = {"preference": "tensorrt-llm", "tensorrtLLM": {"image": NEW_TRT}}
    kv = {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 0.8}
    trt = render_trtllm_deployment(scaled("llama-3-1-8b-h100", autoscaling=kv, engine=engine), None, StoreSettings())
    assert "replicas" not in trt["spec"]
    plain = InferenceDeployment.model_validate(sample_body("small-model"))
    assert render_vllm_deployment(plain)["spec"]["replicas"] == 1


def test_the_seed_is_the_outgoing_count_within_bounds() -> None:
    infd = scaled()
    assert seed_replicas(infd, None) == 1
    assert seed_replicas(infd, {"spec": {"replicas": 3}}) == 3
    assert seed_replicas(infd, {"spec": {"replicas": 9}}) == 4
    assert seed_replicas(infd, {"spec": {"replicas": 0}}) == 1
    manifest = render_vllm_deployment(infd)
    out = seeded(manifest, 3)
    assert out["spec"]["replicas"] == 3
    assert "replicas" not in manifest["spec"]


def test_a_handover_applies_the_current_count_alone() -> None:
    observed: dict[str, Any] = {"metadata": {"name": "d", "namespace": "ns", "uid": "u"}, "spec": {"replicas": 3}}
    assert replicas_handover(observed) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"replicas": 3},
    }
    assert replicas_handover({"metadata": {"name": "d", "namespace": "ns"}, "spec": {}}) is None
