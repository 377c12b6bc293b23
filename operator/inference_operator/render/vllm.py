"""The vLLM serving Deployment: vLLM's OpenAI-compatible server for one InferenceDeployment.

Pure: (InferenceDeployment) -> dict. Flags follow `vllm serve --help` of the pinned release (api/images.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..api.inference_deployment import Engine, InferenceDeployment, Quantization
from .common import scrape_annotations
from .multinode import GroupShape, one_pod_of, render_leader_worker_set, vllm_group_args
from .serving import IN_FLIGHT_DRAIN_SECONDS, EngineServing, render_serving_deployment

CONTAINER_NAME = "vllm"

# Both images' ENTRYPOINT is `vllm serve` today but was `python3 -m ...api_server` before: be explicit.
COMMAND = ["vllm", "serve"]

# /health answers only once the weights are loaded (the HTTP server starts after the engine) and returns 503
# during warmup or when the engine core is dead (vllm/entrypoints/serve/instrumentator/health.py); /v1/models
# never asks the engine. An httpGet, not tcpSocket: vLLM binds its port before the model loads.
HEALTH_PATH = "/health"

# Probe timings, the grace period and the preStop drain are the skeleton's (serving.py).

# On SIGTERM vLLM v0.32.0 stops its engine client with `--shutdown-timeout` (default 0 = "abort": every
# in-flight request is aborted at once; > 0 = "drain": new requests are refused, running ones finish, the engine
# exits when none is left or the timeout passes): vllm/entrypoints/launchers/launcher.py (serve_http,
# handle_shutdown), vllm/v1/engine/core.py (_handle_shutdown), vllm/engine/arg_utils.py (--shutdown-timeout).
# Drain, so a rollout or scale-down never cuts a request the pod had accepted before it left the endpoints.
SHUTDOWN_TIMEOUT_SECONDS = IN_FLIGHT_DRAIN_SECONDS

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


def vllm_args(infd: InferenceDeployment, launch: list[str] | None = None) -> list[str]:
    """`vllm serve` arguments from the spec (and `launch`, a group's node arguments); the user's extra args come
    last so that they win."""
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
        "--shutdown-timeout",
        str(SHUTDOWN_TIMEOUT_SECONDS),
    ]
    quantization = quantization_arg(infd)
    if quantization is not None:
        args += ["--quantization", quantization]
    return args + list(launch or []) + list(spec.engine.vllm.extra_args)


def vllm_serving(infd: InferenceDeployment) -> EngineServing:
    """What the vLLM Deployment has of its own around the shared skeleton (serving.py)."""
    return EngineServing(
        engine=Engine.VLLM,
        container_name=CONTAINER_NAME,
        image=vllm_image(infd),
        command=list(COMMAND),
        args=vllm_args(infd),
        env=list(infd.spec.engine.vllm.env),
        health_path=HEALTH_PATH,
        pod_annotations=scrape_annotations(infd),
    )


def render_vllm_deployment(infd: InferenceDeployment, hub_endpoint: str | None = None) -> dict[str, Any]:
    """The apps/v1 Deployment serving the resource's model with vLLM."""
    return render_serving_deployment(infd, vllm_serving(infd), hub_endpoint)


def render_vllm_leader_worker_set(
    infd: InferenceDeployment, shape: GroupShape, hub_endpoint: str | None = None
) -> dict[str, Any]:
    """The LeaderWorkerSet serving the resource's model with vLLM over groups of nodes (multinode.py)."""
    leader = dataclasses.replace(vllm_serving(infd), args=vllm_args(infd, vllm_group_args(shape, leader=True)))
    deployment = render_serving_deployment(one_pod_of(infd, shape), leader, hub_endpoint)
    worker_args = vllm_args(infd, vllm_group_args(shape, leader=False))
    return render_leader_worker_set(infd, deployment, shape, worker_args)
