"""The HorizontalPodAutoscaler (autoscaling/v2) of an autoscaled InferenceDeployment. Pure.

One HPA per resource, named after it, on the serving Deployment of the engine the Service routes to: at a
cut-over it moves with the traffic. It reads one per-pod custom metric, the serving engine's own series for
spec.autoscaling.signal (api/autoscaling.py), which the metrics adapter's rules serve from Prometheus
(charts/inference-operator/files/prometheus-adapter-rules.yaml). The HPA owns the Deployment's replicas: the
Deployment the operator applies carries none (render/serving.py), and `seeded` gives only the creation its count.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.autoscaling import VLLM_SERIES, AutoscalingSpec, custom_metric_name, trtllm_series
from ..api.inference_deployment import Engine, InferenceDeployment
from .common import common_labels, object_meta, serving_name

API_VERSION = "autoscaling/v2"
KIND = "HorizontalPodAutoscaler"
COMPONENT_AUTOSCALING = "autoscaling"


class SignalNotExported(ValueError):
    """The engine exports no series for the signal (admission refuses such a spec; this is the safety net)."""


def engine_series(infd: InferenceDeployment, engine: Engine) -> str:
    """The engine's Prometheus series for the resource's autoscaling signal."""
    scaling = _scaling(infd)
    if engine is Engine.VLLM:
        return VLLM_SERIES[scaling.signal]
    recipe = infd.spec.engine.tensorrt_llm.resolved_recipe
    series = trtllm_series(scaling.signal, recipe)
    if series is None:
        raise SignalNotExported(
            f"spec.autoscaling.signal {scaling.signal.value} is not exported by TensorRT-LLM {recipe.name.value}"
        )
    return series


def quantity(value: float) -> str:
    """A resource.Quantity of `value` in thousandths, e.g. 2 -> 2, 0.8 -> 800m (byte-identical for one input)."""
    milli = round(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def hpa_name(infd: InferenceDeployment) -> str:
    return str(infd.metadata["name"])


def render_hpa(infd: InferenceDeployment, engine: Engine) -> dict[str, Any]:
    """The HPA scaling `engine`'s serving Deployment on the engine's series for the resource's signal."""
    scaling = _scaling(infd)
    metric = custom_metric_name(engine_series(infd, engine))
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": object_meta(infd, hpa_name(infd), common_labels(infd, engine, COMPONENT_AUTOSCALING)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": serving_name(infd, engine)},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": metric},
                        "target": {"type": "AverageValue", "averageValue": quantity(scaling.target_per_replica)},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds}},
        },
    }


def seed_replicas(infd: InferenceDeployment, outgoing: dict[str, Any] | None) -> int:
    """The replicas a new autoscaled Deployment starts with: the other engine's current count, else the minimum."""
    scaling = _scaling(infd)
    current = ((outgoing or {}).get("spec") or {}).get("replicas")
    if isinstance(current, int) and current > 0:
        return max(scaling.min_replicas, min(scaling.max_replicas, current))
    return scaling.min_replicas


def seeded(manifest: dict[str, Any], replicas: int) -> dict[str, Any]:
    """The Deployment as it is created (once, never applied): with its starting replicas."""
    out = copy.deepcopy(manifest)
    out["spec"] = {"replicas": replicas, **out["spec"]}
    return out


def replicas_handover(observed: dict[str, Any]) -> dict[str, Any] | None:
    """An apply of a Deployment's current count alone, for the seed manager, when autoscaling is turned on for a
    running resource: the operator's apply owned spec.replicas until now, and its next apply (without them) would
    reset them to 1; co-owned by the seed first, they stay. None when the count is unknown."""
    replicas = (observed.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int):
        return None
    meta = observed["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"replicas": replicas},
    }


def _scaling(infd: InferenceDeployment) -> AutoscalingSpec:
    scaling = infd.spec.autoscaling
    if scaling is None:
        raise ValueError(f"{infd.metadata.get('name')} has no spec.autoscaling")
    return scaling
