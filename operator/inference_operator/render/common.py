"""What every rendered child shares: names, owner references, security context, env, scheduling.

Label keys and values live in api/labels.py: handlers select by them too.

Render functions are pure: (InferenceDeployment, observed facts) -> dict. No I/O, no clock, no randomness.
"""

from __future__ import annotations

from typing import Any

from .. import API_VERSION
from ..api.base import SecretKeySelector
from ..api.env_vars import EnvVar
from ..api.inference_deployment import (
    Engine,
    InferenceDeployment,
    ReadinessProbeSpec,
    ResourcesSpec,
    RolloutSpec,
    RolloutStrategy,
)
from ..api.labels import (
    COMPONENT_SERVING,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    LABEL_COMPONENT,
    LABEL_DEPLOYMENT,
    LABEL_ENGINE,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_MODEL,
    LABEL_NAME,
    MANAGED_BY,
    model_label_value,
)
from .sizing import PodSizes

# Engine pods run as this non-root user; HOME and the Hugging Face cache point at writable volumes.
RUN_AS_USER = 1000
MODEL_CACHE_PATH = "/data/model-cache"
SHM_PATH = "/dev/shm"


def serving_name(infd: InferenceDeployment, engine: Engine) -> str:
    """Name of the serving Deployment of one engine: <name>-vllm or <name>-trtllm."""
    suffix = "vllm" if engine is Engine.VLLM else "trtllm"
    return f"{infd.metadata['name']}-{suffix}"


def service_name(infd: InferenceDeployment) -> str:
    """The Service keeps the resource's own name, so the endpoint survives engine cut-overs."""
    return str(infd.metadata["name"])


def endpoint(infd: InferenceDeployment) -> str:
    return f"http://{service_name(infd)}.{infd.metadata['namespace']}.svc:{infd.spec.serving.port}/v1"


def selector_labels(infd: InferenceDeployment, engine: Engine) -> dict[str, str]:
    """Labels that pick out the serving pods of one engine of one resource."""
    return {
        LABEL_DEPLOYMENT: str(infd.metadata["name"]),
        LABEL_COMPONENT: COMPONENT_SERVING,
        LABEL_ENGINE: engine.value,
    }


def common_labels(infd: InferenceDeployment, engine: Engine | None, component: str) -> dict[str, str]:
    """Recommended Kubernetes labels plus ours; dashboards group by deployment, model and engine."""
    labels = {
        LABEL_NAME: engine.value if engine else "inference-deployment",
        LABEL_INSTANCE: str(infd.metadata["name"]),
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_DEPLOYMENT: str(infd.metadata["name"]),
        LABEL_MODEL: model_label_value(infd.spec.model.name),
    }
    if engine is not None:
        labels[LABEL_ENGINE] = engine.value
    return labels


def owner_reference(infd: InferenceDeployment) -> dict[str, Any]:
    """Owner reference to the resource: deleting it garbage-collects the child."""
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceDeployment",
        "name": infd.metadata["name"],
        "uid": infd.metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_meta(infd: InferenceDeployment, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": infd.metadata["namespace"],
        "labels": labels,
        "ownerReferences": [owner_reference(infd)],
    }


def pod_security_context() -> dict[str, Any]:
    """Pod Security `restricted`: non-root, RuntimeDefault seccomp; fsGroup makes the volumes writable."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def hf_token_env(credentials: SecretKeySelector | None) -> list[dict[str, Any]]:
    """HF_TOKEN by reference to the Secret: the value never passes through the operator."""
    if credentials is None:
        return []
    return [
        {
            "name": "HF_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": credentials.name, "key": credentials.key}},
        }
    ]


def cache_env() -> list[dict[str, Any]]:
    """Point every cache at the writable model-cache volume (the image's HOME may not be writable by us)."""
    return [
        {"name": "HOME", "value": MODEL_CACHE_PATH},
        {"name": "HF_HOME", "value": f"{MODEL_CACHE_PATH}/huggingface"},
    ]


# Engine processes run as RUN_AS_USER, which the images' /etc/passwd does not name: Python's getpass.getuser()
# (torch's compile caches, vLLM's usage stats and tempdir naming call it) reads LOGNAME/USER first and raises
# without them (KeyError: 'getpwuid(): uid not found: 1000').
ENGINE_USER = "engine"


def identity_env() -> list[dict[str, Any]]:
    """A user name for a uid the image does not know, so getpass.getuser() answers instead of raising."""
    return [{"name": "USER", "value": ENGINE_USER}, {"name": "LOGNAME", "value": ENGINE_USER}]


def hub_env(hub_endpoint: str | None) -> list[dict[str, Any]]:
    """HF_ENDPOINT: the Hub mirror huggingface_hub (vLLM's and the build's downloads) asks, when one is set."""
    return [] if hub_endpoint is None else [{"name": "HF_ENDPOINT", "value": hub_endpoint}]


def user_env(env: list[EnvVar]) -> list[dict[str, Any]]:
    return [e.to_wire() for e in env]


def probe(defaults: dict[str, Any], override: ReadinessProbeSpec | None) -> dict[str, Any]:
    """A probe with the user's timing overrides on top of the operator's defaults."""
    merged = dict(defaults)
    if override is not None:
        merged.update(override.to_wire())
    return merged


def gpu_scheduling(gpu_product: str | None, gpus: int) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """nodeSelector and tolerations that put a pod on nodes of the requested GPU product."""
    node_selector: dict[str, str] = {}
    tolerations: list[dict[str, Any]] = []
    if gpus > 0:
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
        if gpu_product:
            node_selector[GPU_PRODUCT_LABEL] = gpu_product
    return node_selector, tolerations


def scrape_annotations(infd: InferenceDeployment) -> dict[str, str]:
    """prometheus.io annotations on serving pods when monitoring is on.

    Set whether or not a PodMonitor also exists, so that the monitoring CRDs appearing later never changes the
    pod template (which would restart GPU pods).
    """
    if not infd.spec.monitoring.enabled:
        return {}
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(infd.spec.serving.port),
        "prometheus.io/path": "/metrics",
    }


def merge_env(operator_env: list[dict[str, Any]], overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operator's variables, minus those the user sets, then the user's (user values win).

    Server-side apply rejects a container whose env lists one name twice (env is a map keyed by name).
    """
    overridden = {e["name"] for e in overrides}
    return [e for e in operator_env if e["name"] not in overridden] + overrides


def container_resources(resources: ResourcesSpec, gpus: int, defaults: PodSizes) -> dict[str, Any]:
    """GPU limit (extended resources need no request); cpu/memory the spec sets as request and limit, else the
    derived defaults as requests only; ephemeral storage for the container's disk emptyDir (request = limit)."""
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    if gpus > 0:
        limits[GPU_RESOURCE] = gpus
    for key, value, default in (("cpu", resources.cpu, defaults.cpu), ("memory", resources.memory, defaults.memory)):
        if value is not None:
            requests[key] = value
            limits[key] = value
        else:
            requests[key] = default
    requests["ephemeral-storage"] = defaults.ephemeral_storage
    limits["ephemeral-storage"] = defaults.ephemeral_storage
    return {"requests": requests, "limits": limits}


def deployment_strategy(rollout: RolloutSpec) -> dict[str, Any]:
    """Deployment strategy; RollingUpdate parameters only when given, so Kubernetes' defaults apply."""
    if rollout.strategy is RolloutStrategy.RECREATE:
        return {"type": "Recreate"}
    rolling: dict[str, Any] = {}
    if rollout.max_surge is not None:
        rolling["maxSurge"] = rollout.max_surge
    if rollout.max_unavailable is not None:
        rolling["maxUnavailable"] = rollout.max_unavailable
    strategy: dict[str, Any] = {"type": "RollingUpdate"}
    if rolling:
        strategy["rollingUpdate"] = rolling
    return strategy


# Image pull of a multi-GB engine image plus scheduling, on top of the startup probe's allowance.
PROGRESS_DEADLINE_MARGIN_SECONDS = 900


def progress_deadline_seconds(startup_probe: dict[str, Any]) -> int:
    """A Deployment progress deadline no shorter than a pod may legitimately take to start.

    The default (600 s) would mark a rollout ProgressDeadlineExceeded while a large model is still loading.
    """
    delay = int(startup_probe.get("initialDelaySeconds", 0))
    period = int(startup_probe.get("periodSeconds", 10))
    failures = int(startup_probe.get("failureThreshold", 3))
    return delay + period * failures + PROGRESS_DEADLINE_MARGIN_SECONDS
