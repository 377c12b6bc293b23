"""The PodMonitor (monitoring.coreos.com/v1) that has Prometheus scrape an InferenceDeployment's serving pods.

One PodMonitor per resource, named after it, selecting the serving pods of both engines (the component label
keeps build Job pods out). Each engine gets its own endpoint because they serve Prometheus text on different
paths (see metrics/engines.py): an endpoint keeps only its engine's pods, so nothing scrapes trtllm-serve's JSON.

Targets carry our pod labels through `podTargetLabels`. prometheus-operator turns each key into a target label
by replacing every character outside [a-zA-Z0-9_] with `_` (sanitizeLabelName in its promcfg.go), so in
Prometheus they read `inference_operator_dev_deployment`, `inference_operator_dev_model` and
`inference_operator_dev_engine` - the same names the usual annotation-based `kubernetes-pods` job produces
with its `labelmap: __meta_kubernetes_pod_label_(.+)`, so dashboards work with either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..api.inference_deployment import Engine, InferenceDeployment
from ..api.labels import COMPONENT_SERVING, LABEL_COMPONENT, LABEL_DEPLOYMENT, LABEL_ENGINE, LABEL_MODEL, PORT_NAME
from ..metrics.engines import metrics_path
from .common import common_labels, object_meta
from .trtllm import perf_metrics_enabled

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PodMonitor"
COMPONENT_MONITORING = "monitoring"

TARGET_LABEL_KEYS = (LABEL_DEPLOYMENT, LABEL_MODEL, LABEL_ENGINE)


def target_label_name(pod_label: str) -> str:
    """The Prometheus label a pod label becomes on targets (prometheus-operator's sanitizeLabelName)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", pod_label)


TARGET_DEPLOYMENT = target_label_name(LABEL_DEPLOYMENT)
TARGET_MODEL = target_label_name(LABEL_MODEL)
TARGET_ENGINE = target_label_name(LABEL_ENGINE)


def pod_monitor_selector(infd: InferenceDeployment) -> dict[str, str]:
    """Serving pods of this resource, whichever engine: build Job pods have another component."""
    return {LABEL_DEPLOYMENT: str(infd.metadata["name"]), LABEL_COMPONENT: COMPONENT_SERVING}


def _engine_endpoint(interval: str, engine: Engine) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "port": PORT_NAME,
        "path": metrics_path(engine),
        "interval": interval,
        "relabelings": [
            {
                "action": "keep",
                "sourceLabels": [f"__meta_kubernetes_pod_label_{TARGET_ENGINE}"],
                "regex": engine.value,
            }
        ],
    }
    # No metricRelabelings: series keep the names the engine exports, exactly as when the pods are scraped by
    # their prometheus.io annotations, so one set of dashboard and alert queries holds for both.
    return endpoint


def render_pod_monitor(infd: InferenceDeployment, extra_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The PodMonitor of one InferenceDeployment. Pure: the caller decides whether monitoring is enabled.

    extra_labels: labels the cluster's Prometheus selects PodMonitors by (kube-prometheus-stack's
    podMonitorSelector defaults to `release: <its release name>`).
    """
    labels = common_labels(infd, None, COMPONENT_MONITORING)
    labels.update(extra_labels or {})
    # trtllm-serve has Prometheus text only when rendered with return_perf_metrics; else its target would 404.
    engines = [Engine.VLLM, Engine.TENSORRT_LLM] if perf_metrics_enabled(infd) else [Engine.VLLM]
    interval = infd.spec.monitoring.interval
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": object_meta(infd, str(infd.metadata["name"]), labels),
        "spec": {
            "selector": {"matchLabels": pod_monitor_selector(infd)},
            "podTargetLabels": list(TARGET_LABEL_KEYS),
            "podMetricsEndpoints": [_engine_endpoint(interval, engine) for engine in engines],
        },
    }
