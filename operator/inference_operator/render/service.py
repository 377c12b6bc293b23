"""The Service in front of the serving pods: one stable endpoint whatever engine serves."""

from __future__ import annotations

from typing import Any

from ..api.inference_deployment import Engine, InferenceDeployment
from ..api.labels import COMPONENT_SERVING, PORT_NAME
from .common import common_labels, object_meta, selector_labels, service_name
from .multinode import WORKER_INDEX_LABEL


def render_service(infd: InferenceDeployment, active: Engine, leaders_only: bool = False) -> dict[str, Any]:
    """ClusterIP Service selecting the pods of the active engine; the cut-over is a change of selector. Of a
    multi-node group only the leader (worker index 0) serves the API: `leaders_only` selects leaders alone."""
    selector = selector_labels(infd, active)
    if leaders_only:
        selector[WORKER_INDEX_LABEL] = "0"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(infd, service_name(infd), common_labels(infd, None, COMPONENT_SERVING)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": infd.spec.serving.port,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }
