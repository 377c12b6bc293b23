"""The fleet: N small vLLM InferenceDeployments on CPU nodes, and where they and their children live in the API."""

from __future__ import annotations

from typing import Any

from inference_operator import API_VERSION, GROUP, VERSION

INFD_PLURAL = "inferencedeployments"


def infd_path(namespace: str, name: str | None = None, sub: str | None = None) -> str:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{INFD_PLURAL}"
    return path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


def deployment_path(namespace: str, name: str | None = None) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments" + (f"/{name}" if name else "")


def service_path(namespace: str, name: str | None = None) -> str:
    return f"/api/v1/namespaces/{namespace}/services" + (f"/{name}" if name else "")


def resource_name(index: int) -> str:
    return f"m{index:05d}"


def inference_deployment(name: str) -> dict[str, Any]:
    """One replica of a small model on CPU (`gpusPerReplica: 0`): every pod fits the bench's CPU nodes."""
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceDeployment",
        "metadata": {"name": name},
        "spec": {
            # Each pod downloads, as the floor's and the peer's do: a weight cache entry would hold every Deployment
            # back until its (simulated) download Job finishes.
            "model": {"name": "Qwen/Qwen2.5-0.5B-Instruct", "cache": {"enabled": False}},
            "engine": {"preference": "vllm"},
            "replicas": 1,
            "resources": {"gpusPerReplica": 0, "cpu": "100m", "memory": "256Mi", "shmSize": "64Mi"},
        },
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
