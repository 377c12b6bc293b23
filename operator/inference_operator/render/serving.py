"""The serving Deployment skeleton both engines share: probes, container, pod spec, volumes, strategy. Pure.

vllm.py and trtllm.py each say only what differs (image, command, arguments, env, extra volumes, labels,
scrape annotations) as an `EngineServing`; `render_serving_deployment` builds the same Deployment around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.env_vars import EnvVar
from ..api.inference_deployment import Engine, InferenceDeployment
from ..api.labels import COMPONENT_SERVING, PORT_NAME
from .common import (
    MODEL_CACHE_PATH,
    SHM_PATH,
    cache_env,
    common_labels,
    container_resources,
    container_security_context,
    deployment_strategy,
    gpu_scheduling,
    hf_token_env,
    hub_env,
    identity_env,
    merge_env,
    object_meta,
    pod_security_context,
    probe,
    progress_deadline_seconds,
    selector_labels,
    serving_name,
    user_env,
)
from .engine_build import parameters_billions
from .sizing import PodSizes, serving_sizes, weights_bytes

SHM_VOLUME = "dshm"
CACHE_VOLUME = "model-cache"

# 10 s x 180 = 30 minutes to download and load a large checkpoint (or engine) before Kubernetes gives up.
STARTUP_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 180}
READINESS_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
# Mild: 5 misses 30 s apart before a restart, so a saturated event loop is not taken for a dead engine.
LIVENESS_PROBE = {"periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 5}

# Streaming completions keep running after the pod leaves the Service's endpoints; give them time to finish.
TERMINATION_GRACE_PERIOD_SECONDS = 120
# The kubelet signals the container as soon as the pod is deleted, while kube-proxy, ingress controllers and
# service meshes still route to it until they see the EndpointSlice change (the pod leaves it at once, the
# proxies follow within seconds). The preStop hook holds the signal back that long, so no proxy sends a request
# to a server that has stopped accepting (the engine keeps serving meanwhile). Part of the grace period.
# exec `sleep`, not the `sleep` action: that action needs Kubernetes 1.30 and the operator supports 1.28.
PRE_STOP_DRAIN_SECONDS = 10
# What is left of the grace period after the drain, minus time for the engine's own teardown: how long an
# engine may wait for its in-flight requests after the signal (vLLM's --shutdown-timeout, vllm.py).
IN_FLIGHT_DRAIN_SECONDS = TERMINATION_GRACE_PERIOD_SECONDS - PRE_STOP_DRAIN_SECONDS - 10


@dataclass(frozen=True)
class EngineServing:
    """What one engine's serving Deployment has of its own; everything else is the skeleton's."""

    engine: Engine
    container_name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[EnvVar]
    health_path: str
    volumes: list[dict[str, Any]] = field(default_factory=list)  # beyond /dev/shm and the model cache
    mounts: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # beyond common_labels
    pod_annotations: dict[str, str] = field(default_factory=dict)


def pod_sizes(infd: InferenceDeployment) -> PodSizes:
    """The engine container's default requests and its model cache's size, from the model and its GPUs."""
    spec = infd.spec
    weights = weights_bytes(parameters_billions(infd), spec.precision.dtype, spec.precision.quantization)
    return serving_sizes(weights, spec.gpus_per_replica, spec.resources.shm_size, spec.resources.model_cache_size)


def _volumes(
    infd: InferenceDeployment, engine: EngineServing, sizes: PodSizes
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """/dev/shm for NCCL and PyTorch workers (counts against the memory limit), the model cache, the engine's."""
    volumes = [
        {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": infd.spec.resources.shm_size}},
        # Node disk the scheduler counts: the container requests this sizeLimit as ephemeral-storage.
        {"name": CACHE_VOLUME, "emptyDir": {"sizeLimit": sizes.disk_size_limit}},
        *(dict(v) for v in engine.volumes),
    ]
    mounts = [
        {"name": SHM_VOLUME, "mountPath": SHM_PATH},
        {"name": CACHE_VOLUME, "mountPath": MODEL_CACHE_PATH},
        *(dict(m) for m in engine.mounts),
    ]
    return volumes, mounts


def _probes(infd: InferenceDeployment, health_path: str) -> dict[str, dict[str, Any]]:
    overrides = infd.spec.serving.probes

    def health_check(timing: dict[str, int]) -> dict[str, Any]:
        # A fresh httpGet per probe: shared objects would become YAML anchors.
        return {"httpGet": {"path": health_path, "port": PORT_NAME}} | timing

    return {
        "startupProbe": probe(health_check(STARTUP_PROBE), overrides.startup),
        "readinessProbe": probe(health_check(READINESS_PROBE), overrides.readiness),
        "livenessProbe": probe(health_check(LIVENESS_PROBE), overrides.liveness),
    }


def _container(
    infd: InferenceDeployment,
    engine: EngineServing,
    mounts: list[dict[str, Any]],
    probes: dict[str, Any],
    hub_endpoint: str | None,
    sizes: PodSizes,
) -> dict[str, Any]:
    spec = infd.spec
    operator_env = hf_token_env(spec.model.credentials) + hub_env(hub_endpoint) + cache_env() + identity_env()
    env = merge_env(operator_env, user_env(engine.env))
    return {
        "name": engine.container_name,
        "image": engine.image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(engine.command),
        "args": list(engine.args),
        "env": env,
        "ports": [{"name": PORT_NAME, "containerPort": spec.serving.port, "protocol": "TCP"}],
        "resources": container_resources(spec.resources, spec.gpus_per_replica, sizes),
        "volumeMounts": mounts,
        **probes,
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_DRAIN_SECONDS)]}}},
        "securityContext": container_security_context(),
    }


def _pod_spec(infd: InferenceDeployment, container: dict[str, Any], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    spec = infd.spec
    node_selector, tolerations = gpu_scheduling(spec.resources.gpu_product, spec.gpus_per_replica)
    node_selector = node_selector | spec.resources.node_selector
    tolerations = tolerations + [t.to_wire() for t in spec.resources.tolerations]
    # CPU mode keeps the restricted profile too: vLLM only warns when NUMA syscalls are denied (vllm#24016).
    pod: dict[str, Any] = {
        # The engine never talks to the API server.
        "automountServiceAccountToken": False,
        # No *_PORT variables from the namespace's Services: a Service named "vllm" would inject
        # VLLM_PORT=tcp://..., which vLLM reads as its own setting.
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_PERIOD_SECONDS,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
    if node_selector:
        pod["nodeSelector"] = node_selector
    if tolerations:
        pod["tolerations"] = tolerations
    return pod


def render_serving_deployment(
    infd: InferenceDeployment, engine: EngineServing, hub_endpoint: str | None = None
) -> dict[str, Any]:
    """The apps/v1 Deployment serving the resource's model with one engine (hub_endpoint: the operator's
    INFOP_HF_ENDPOINT setting)."""
    spec = infd.spec
    labels = common_labels(infd, engine.engine, COMPONENT_SERVING) | engine.labels
    probes = _probes(infd, engine.health_path)
    sizes = pod_sizes(infd)
    volumes, mounts = _volumes(infd, engine, sizes)
    # Copies, not shared references: YAML dumpers turn a shared object into an anchor and alias.
    template_metadata: dict[str, Any] = {"labels": dict(labels)}
    if engine.pod_annotations:
        template_metadata["annotations"] = dict(engine.pod_annotations)
    # Under autoscaling the HPA owns replicas: an applied object that carried them would take them back (SSA).
    replicas = {} if spec.autoscaling is not None else {"replicas": spec.desired_replicas}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(infd, serving_name(infd, engine.engine), labels),
        "spec": {
            **replicas,
            "selector": {"matchLabels": selector_labels(infd, engine.engine)},
            "strategy": deployment_strategy(spec.serving.rollout),
            "progressDeadlineSeconds": progress_deadline_seconds(probes["startupProbe"]),
            "template": {
                "metadata": template_metadata,
                "spec": _pod_spec(infd, _container(infd, engine, mounts, probes, hub_endpoint, sizes), volumes),
            },
        },
    }
