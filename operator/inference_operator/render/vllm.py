"""The vLLM serving Deployment: vLLM's OpenAI-compatible server for one InferenceDeployment.

Pure: (InferenceDeployment) -> dict. Flags follow `vllm serve --help` of the pinned release (api/images.py).
"""

from __future__ import annotations

from typing import Any

from ..api.inference_deployment import Engine, InferenceDeployment, Quantization
from .common import (
    COMPONENT_SERVING,
    MODEL_CACHE_PATH,
    SHM_PATH,
    cache_env,
    common_labels,
    container_resources,
    container_security_context,
    deployment_strategy,
    gpu_scheduling,
    hf_token_env,
    merge_env,
    object_meta,
    pod_security_context,
    probe,
    progress_deadline_seconds,
    scrape_annotations,
    selector_labels,
    serving_name,
    user_env,
)

CONTAINER_NAME = "vllm"
PORT_NAME = "http"
SHM_VOLUME = "dshm"
CACHE_VOLUME = "model-cache"

# Both images' ENTRYPOINT is `vllm serve` today but was `python3 -m ...api_server` before: be explicit.
COMMAND = ["vllm", "serve"]

# /health answers only once the weights are loaded (the HTTP server starts after the engine) and returns 503
# during warmup or when the engine core is dead (vllm/entrypoints/serve/instrumentator/health.py); /v1/models
# never asks the engine. An httpGet, not tcpSocket: vLLM binds its port before the model loads.
HEALTH_PATH = "/health"

# 10 s x 180 = 30 minutes to download and load a large checkpoint before Kubernetes gives up.
STARTUP_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 180}
READINESS_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
# Mild: 5 misses 30 s apart before a restart, so a saturated event loop is not taken for a dead engine.
LIVENESS_PROBE = {"periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 5}

# Streaming completions keep running after the pod leaves the Service's endpoints; give them time to finish.
TERMINATION_GRACE_PERIOD_SECONDS = 120

# Explicit *_marlin names: `--quantization awq|gptq` forces the slow generic kernels even when Marlin fits
# (vllm/model_executor/layers/quantization/awq_marlin.py, override_quantization_method).
_GPU_QUANTIZATION_ARG = {
    Quantization.FP8: "fp8",
    Quantization.INT4_AWQ: "awq_marlin",
    Quantization.INT4_GPTQ: "gptq_marlin",
}


def vllm_image(infd: InferenceDeployment) -> str:
    """The configured image, else the pinned GPU build, or vLLM's CPU build when a replica has no GPU."""
    return infd.spec.vllm_image


def quantization_arg(infd: InferenceDeployment) -> str | None:
    """The --quantization value, or None to let vLLM read the checkpoint's own quantization_config."""
    quantization = infd.spec.precision.quantization
    if quantization is Quantization.NONE:
        return None
    if infd.spec.gpus_per_replica == 0 and quantization is not Quantization.FP8:
        # Marlin kernels are CUDA-only; on CPU vLLM picks its kernel from the checkpoint.
        return None
    return _GPU_QUANTIZATION_ARG[quantization]


def vllm_args(infd: InferenceDeployment) -> list[str]:
    """`vllm serve` arguments from the spec; the user's extra args come last so that they win."""
    spec = infd.spec
    args = [
        # Positional: `vllm serve --model` is deprecated ("provide the model as a positional argument").
        spec.model.name,
        "--revision",
        spec.model.revision,
        "--served-model-name",
        spec.served_model_name,
        "--host",
        "0.0.0.0",
        "--port",
        str(spec.serving.port),
        "--tensor-parallel-size",
        str(spec.parallelism.tensor),
        "--pipeline-parallel-size",
        str(spec.parallelism.pipeline),
        "--dtype",
        spec.precision.dtype.value,
    ]
    quantization = quantization_arg(infd)
    if quantization is not None:
        args += ["--quantization", quantization]
    return args + list(spec.engine.vllm.extra_args)


def _volumes(infd: InferenceDeployment) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """/dev/shm for NCCL and PyTorch workers (counts against the memory limit) and the model cache."""
    volumes = [
        {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": infd.spec.resources.shm_size}},
        {"name": CACHE_VOLUME, "emptyDir": {}},
    ]
    mounts = [
        {"name": SHM_VOLUME, "mountPath": SHM_PATH},
        {"name": CACHE_VOLUME, "mountPath": MODEL_CACHE_PATH},
    ]
    return volumes, mounts


def _probes(infd: InferenceDeployment) -> dict[str, dict[str, Any]]:
    overrides = infd.spec.serving.probes

    def health_check(timing: dict[str, int]) -> dict[str, Any]:
        # A fresh httpGet per probe: shared objects would become YAML anchors.
        return {"httpGet": {"path": HEALTH_PATH, "port": PORT_NAME}} | timing

    return {
        "startupProbe": probe(health_check(STARTUP_PROBE), overrides.startup),
        "readinessProbe": probe(health_check(READINESS_PROBE), overrides.readiness),
        "livenessProbe": probe(health_check(LIVENESS_PROBE), overrides.liveness),
    }


def _container(infd: InferenceDeployment, probes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec = infd.spec
    _, mounts = _volumes(infd)
    env = merge_env(hf_token_env(spec.model.credentials) + cache_env(), user_env(spec.engine.vllm.env))
    return {
        "name": CONTAINER_NAME,
        "image": vllm_image(infd),
        "imagePullPolicy": "IfNotPresent",
        "command": list(COMMAND),
        "args": vllm_args(infd),
        "env": env,
        "ports": [{"name": PORT_NAME, "containerPort": spec.serving.port, "protocol": "TCP"}],
        "resources": container_resources(spec.resources, spec.gpus_per_replica),
        "volumeMounts": mounts,
        **probes,
        "securityContext": container_security_context(),
    }


def _pod_spec(infd: InferenceDeployment, container: dict[str, Any]) -> dict[str, Any]:
    spec = infd.spec
    volumes, _ = _volumes(infd)
    node_selector, tolerations = gpu_scheduling(spec.resources.gpu_product, spec.gpus_per_replica)
    node_selector = node_selector | spec.resources.node_selector
    tolerations = tolerations + [t.to_wire() for t in spec.resources.tolerations]
    # CPU mode keeps the restricted profile too: vLLM only warns when NUMA syscalls are denied (vllm#24016).
    pod: dict[str, Any] = {
        # The engine never talks to the API server.
        "automountServiceAccountToken": False,
        # A Service named "vllm" would inject VLLM_PORT=tcp://..., which vLLM reads as its own setting.
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


def render_vllm_deployment(infd: InferenceDeployment) -> dict[str, Any]:
    """The apps/v1 Deployment serving the resource's model with vLLM."""
    spec = infd.spec
    labels = common_labels(infd, Engine.VLLM, COMPONENT_SERVING)
    probes = _probes(infd)
    # Copies, not shared references: YAML dumpers turn a shared object into an anchor and alias.
    template_metadata: dict[str, Any] = {"labels": dict(labels)}
    annotations = scrape_annotations(infd)
    if annotations:
        template_metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(infd, serving_name(infd, Engine.VLLM), labels),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector_labels(infd, Engine.VLLM)},
            "strategy": deployment_strategy(spec.serving.rollout),
            "progressDeadlineSeconds": progress_deadline_seconds(probes["startupProbe"]),
            "template": {
                "metadata": template_metadata,
                "spec": _pod_spec(infd, _container(infd, probes)),
            },
        },
    }
