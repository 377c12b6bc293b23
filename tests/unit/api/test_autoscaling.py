"""spec.autoscaling: the bounds, the refusals (pydantic here, the CEL twins in the CRD), the signal mapping."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from inference_operator.api.autoscaling import (
    TRTLLM_NEVER,
    VLLM_SERIES,
    AutoscalingSignal,
    custom_metric_name,
    trtllm_series,
)
from inference_operator.api.crdgen import inference_deployment_crd
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.trtllm_recipes import RECIPES_BY_NAME, TrtllmRecipeName
from inference_operator.api.validation import format_validation_error
from inference_operator.metrics.engines import ENGINE_METRICS
from tests.support.samples import sample_body

SCALING = {"maxReplicas": 4, "targetPerReplica": 2}
NEW_TRT = "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc21"


def parse(spec: dict[str, Any], sample: str = "small-model") -> InferenceDeployment:
    body = sample_body(sample)
    body["spec"] = {**body["spec"], **spec}
    return InferenceDeployment.model_validate(body)


def refusal(spec: dict[str, Any], sample: str = "small-model") -> str:
    with pytest.raises(pydantic.ValidationError) as info:
        parse(spec, sample)
    return format_validation_error(info.value)


def test_defaults() -> None:
    scaling = parse({"autoscaling": SCALING}).spec.autoscaling
    assert scaling is not None
    assert (scaling.min_replicas, scaling.signal, scaling.scale_down_stabilization_seconds) == (
        1,
        AutoscalingSignal.WAITING_REQUESTS,
        300,
    )


def test_replicas_default_one_without_autoscaling_and_min_with_it() -> None:
    assert parse({}).spec.desired_replicas == 1
    assert parse({"replicas": 3}).spec.desired_replicas == 3
    assert parse({"autoscaling": {**SCALING, "minReplicas": 2}}).spec.desired_replicas == 2


def test_min_above_max_is_refused_naming_the_field() -> None:
    message = refusal({"autoscaling": {**SCALING, "minReplicas": 5}})
    assert message == "spec.autoscaling.minReplicas: must not exceed maxReplicas"


def test_replicas_with_autoscaling_is_refused() -> None:
    assert refusal({"replicas": 2, "autoscaling": SCALING}) == (
        "spec.replicas: must be unset when spec.autoscaling is set"
    )


def test_kv_cache_target_is_a_fraction() -> None:
    message = refusal({"autoscaling": {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 80}})
    assert message.startswith("spec.autoscaling.targetPerReplica: must be at most 1")
    assert parse({"autoscaling": {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 0.8}})


def test_zero_min_replicas_is_refused() -> None:
    assert refusal({"autoscaling": {**SCALING, "minReplicas": 0}}) == ("spec.autoscaling.minReplicas: must be >= 1")


def test_a_signal_tensorrt_llm_does_not_export_is_refused() -> None:
    trt = {"preference": "tensorrt-llm", "tensorrtLLM": {"image": NEW_TRT}}
    message = refusal({"engine": trt, "autoscaling": SCALING}, "llama-3-1-8b-h100")
    assert message.startswith("spec.autoscaling: signal waitingRequests is not exported by TensorRT-LLM 1.3.0rc21+")
    # The pinned 1.2.x line exports no KV-cache gauge either.
    pinned = {"preference": "tensorrt-llm"}
    message = refusal(
        {"engine": pinned, "autoscaling": {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 1}},
        "llama-3-1-8b-h100",
    )
    assert "kvCacheUsage is not exported by TensorRT-LLM 1.2.x" in message
    kv = {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 0.8}
    assert parse({"engine": trt, "autoscaling": kv}, "llama-3-1-8b-h100").spec.autoscaling is not None


def test_vllm_series_are_the_gauges_vllm_registers() -> None:
    # vllm-project/vllm v0.32.0 vllm/v1/metrics/loggers.py; metrics/engines.py lists the same names.
    for series in VLLM_SERIES.values():
        assert ENGINE_METRICS[series].kind.value == "gauge", series


def test_tensorrt_llm_series_per_release_line() -> None:
    old, new = RECIPES_BY_NAME[TrtllmRecipeName.RELEASE_1_2], RECIPES_BY_NAME[TrtllmRecipeName.PYTORCH_ONLY]
    assert trtllm_series(AutoscalingSignal.KV_CACHE_USAGE, old) is None
    assert trtllm_series(AutoscalingSignal.KV_CACHE_USAGE, new) == "trtllm_kv_cache_utilization"
    assert TRTLLM_NEVER == ["runningRequests", "waitingRequests"]


def test_custom_metric_names_have_no_colon() -> None:
    assert custom_metric_name("vllm:num_requests_waiting") == "vllm_num_requests_waiting"


def test_the_crd_carries_the_cel_twins() -> None:
    crd = inference_deployment_crd()
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    assert "!has(self.autoscaling) || !has(self.replicas)" in rules
    assert "default" not in spec["properties"]["replicas"]  # else has(self.replicas) would always hold
    scaling_rules = [r["rule"] for r in spec["properties"]["autoscaling"]["x-kubernetes-validations"]]
    assert "!has(self.minReplicas) || self.minReplicas <= self.maxReplicas" in scaling_rules
