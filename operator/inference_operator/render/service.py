"""The Service in front of the serving pods: one stable endpoint whatever engine serves."""

from __future__ import annotations

from typing import Any

from ..api.inference_deployment import Engine, InferenceDeployment
from ..api.labels import COMPONENT_SERVING, PORT_NAME
from .common import common_labels, object_meta, selector_labels, service_name


def render_service(infd: InferenceDeployment, active: Engine) -> dict[str, Any]:
    """ClusterIP Service selecting the pods of the active engine; the cut-over is a change of selector."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(infd, service_name(infd), common_labels(infd, None, COMPONENT_SERVING)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(infd, active),
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
