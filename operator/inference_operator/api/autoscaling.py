"""spec.autoscaling of an InferenceDeployment: replicas sized by an engine's own signal, through the cluster's
HorizontalPodAutoscaler (render/autoscaler.py) and a custom metrics API fed from Prometheus.

Each engine exports the signals under its own series names; the operator maps a signal to the series of the
engine that serves, and the metrics adapter's rules (charts/inference-operator/files/prometheus-adapter-rules.yaml)
serve each series as a per-pod custom metric of the same name with `:` replaced by `_`.
"""

from __future__ import annotations

import enum

from pydantic import Field, model_validator

from .base import ApiModel, cel, field_conflict
from .trtllm_recipes import RECIPES, TrtllmRecipe


class AutoscalingSignal(enum.StrEnum):
    WAITING_REQUESTS = "waitingRequests"
    RUNNING_REQUESTS = "runningRequests"
    KV_CACHE_USAGE = "kvCacheUsage"


# vLLM's scheduler gauges, registered by PrometheusStatLogger in vllm/v1/metrics/loggers.py (vllm-project/vllm
# v0.32.0, the pinned release): per engine core, summed per pod by the adapter's rules. KV-cache usage is a
# fraction, 1 = full, despite its name.
VLLM_SERIES: dict[AutoscalingSignal, str] = {
    AutoscalingSignal.WAITING_REQUESTS: "vllm:num_requests_waiting",
    AutoscalingSignal.RUNNING_REQUESTS: "vllm:num_requests_running",
    AutoscalingSignal.KV_CACHE_USAGE: "vllm:kv_cache_usage_perc",
}
# TensorRT-LLM: a signal is the recipe row's series of that `signal` (api/trtllm_recipes.py). No release line
# exports a queue or running-requests gauge; KV-cache usage (trtllm_kv_cache_utilization, 1 = full) only from
# 1.3.0rc21 on (NVIDIA/TensorRT-LLM#11243).
TRTLLM_SIGNALS: dict[AutoscalingSignal, str] = {AutoscalingSignal.KV_CACHE_USAGE: "kv_cache_utilization"}


def trtllm_series(signal: AutoscalingSignal, recipe: TrtllmRecipe) -> str | None:
    """The series a TensorRT-LLM release line exports for `signal`, or None when it has none."""
    wanted = TRTLLM_SIGNALS.get(signal)
    return next((s.name for s in recipe.metrics.series if wanted is not None and s.signal == wanted), None)


def custom_metric_name(series: str) -> str:
    """The custom metrics API's name for an engine series, as the chart's adapter rules name it (`:` -> `_`)."""
    return series.replace(":", "_")


# Signals no TensorRT-LLM release line exports: refused at admission whenever TensorRT-LLM may serve.
TRTLLM_NEVER = sorted(s.value for s in AutoscalingSignal if all(trtllm_series(s, r) is None for r in RECIPES))

MIN_ABOVE_MAX = "spec.autoscaling.minReplicas must not exceed maxReplicas"
KV_TARGET_ABOVE_ONE = "spec.autoscaling.targetPerReplica must be at most 1 for kvCacheUsage (a fraction, 1 = full)"


class AutoscalingSpec(ApiModel):
    """Replicas sized by the serving engine's own load signal, through a HorizontalPodAutoscaler."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            ("!has(self.minReplicas) || self.minReplicas <= self.maxReplicas", MIN_ABOVE_MAX),
            (
                "!has(self.signal) || self.signal != 'kvCacheUsage' || self.targetPerReplica <= 1.0",
                KV_TARGET_ABOVE_ONE,
            ),
        )
    }

    min_replicas: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Fewest serving replicas. At least 1: scaling to zero needs something in the request path "
        "(docs/autoscaling.md).",
    )
    max_replicas: int = Field(ge=1, le=1000, description="Most serving replicas.")
    signal: AutoscalingSignal = Field(
        default=AutoscalingSignal.WAITING_REQUESTS,
        description="The engine signal to scale on: waitingRequests (the queue), runningRequests (the batch) or "
        "kvCacheUsage (0 to 1). The operator maps it to the serving engine's own series; TensorRT-LLM exports "
        "only kvCacheUsage, and only from 1.3.0rc21 on.",
    )
    target_per_replica: float = Field(
        gt=0,
        le=100000,
        description="The signal's average per pod the autoscaler aims for, e.g. 2 waiting requests, or 0.8 "
        "of the KV cache.",
    )
    scale_down_stabilization_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="How long the autoscaler waits for lower recommendations to hold before it removes replicas "
        "(behavior.scaleDown.stabilizationWindowSeconds of the HorizontalPodAutoscaler).",
    )

    @model_validator(mode="after")
    def bounds_hold(self) -> AutoscalingSpec:
        if self.min_replicas > self.max_replicas:
            raise field_conflict("minReplicas", "must not exceed maxReplicas")
        if self.signal is AutoscalingSignal.KV_CACHE_USAGE and self.target_per_replica > 1:
            raise field_conflict("targetPerReplica", "must be at most 1 for kvCacheUsage (a fraction, 1 = full)")
        return self


class AutoscalerStatus(ApiModel):
    """The HorizontalPodAutoscaler sizing the serving Deployment."""

    name: str = Field(description="The HorizontalPodAutoscaler's name (the resource's).")
    target: str = Field(description="The serving Deployment it scales: the routed engine's.")
    metric: str = Field(description="The per-pod custom metric it reads (the engine's series for the signal).")
