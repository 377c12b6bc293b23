"""The vLLM serving Deployment: vLLM's OpenAI-compatible server for one InferenceDeployment.

Pure: (InferenceDeployment) -> dict. Flags follow `vllm serve --help` of the pinned release (api/images.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..api.env_vars import EnvVar
from ..api.inference_deployment import Engine, InferenceDeployment, Quantization
from ..api.labels import LABEL_BUILD
from ..api.quantization_spec import KvCacheDtype
from ..api.settings import StoreSettings
from .common import scrape_annotations
from .multinode import GroupShape, one_pod_of, render_leader_worker_set, vllm_group_args
from .quantize_job import checkpoint_dir, store_mount
from .serving import IN_FLIGHT_DRAIN_SECONDS, EngineServing, render_serving_deployment
from .weight_cache import LABEL_WEIGHT_CACHE, serving_model_path, serving_volume

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
    # INT8 in vLLM v0.32.0 is a pre-quantized compressed-tensors checkpoint (W8A8 int8: CompressedTensorsW8A8Int8;
    # INT8 weight-only: CompressedTensorsWNA16 with 8 bits), detected from config.json's quantization_config.
    # Named anyway, as for AWQ/GPTQ: vLLM refuses at start a checkpoint whose quant_method differs, instead of
    # silently serving a full-precision one (vllm/model_executor/layers/quantization/compressed_tensors/).
    Quantization.INT8: "compressed-tensors",
    Quantization.INT8_WO: "compressed-tensors",
}


# A ModelOpt checkpoint (a quantization build, issue 16 §2) is loaded by the method its hf_quant_config.json's
# quant_algo belongs to: FP8 -> `modelopt`, NVFP4 -> `modelopt_fp4` (vllm-project/vllm v0.32.0,
# vllm/model_executor/layers/quantization/modelopt.py LINEAR_ALGOS and get_name, __init__.py's method list).
# vLLM has no ModelOpt W4A16_AWQ, W8A16 or W8A8_SQ method (LINEAR_ALGOS lists FP8*, NVFP4, W4A16_NVFP4, MXFP8):
# an int4-awq or int8-wo quantization build is TensorRT-LLM's only (controller/inference_deployment/desired.py).
MODELOPT_QUANTIZATION_ARG = {Quantization.FP8: "modelopt", Quantization.NVFP4: "modelopt_fp4"}
STORE_VOLUME = "engine-store"


def vllm_image(infd: InferenceDeployment) -> str:
    """The configured image, else the pinned GPU build, or vLLM's CPU build when a replica has no GPU."""
    return infd.spec.vllm_image


# Formats TensorRT-LLM's engine build quantizes to, or converts, from the checkpoint as it is (build_recipe.py):
# vLLM serving such a resource meanwhile (or as its fallback) passes no --quantization and reads the checkpoint's
# own quantization_config, if any. `--quantization compressed-tensors` on a full-precision checkpoint would fail
# at start, and so would `awq_marlin`/`gptq_marlin` (the engine build quantizes a full-precision int4-awq model).
QUANTIZED_BY_THE_ENGINE_BUILD = (
    Quantization.INT8,
    Quantization.INT8_WO,
    Quantization.INT4_AWQ,
    Quantization.INT4_GPTQ,
)


def quantization_arg(infd: InferenceDeployment, interim: bool = False) -> str | None:
    """The --quantization value, or None to let vLLM read the checkpoint's own quantization_config. `interim`:
    vLLM serves a resource TensorRT-LLM was selected for (while its engine builds, or as the fallback)."""
    quantization = infd.spec.precision.quantization
    if quantization is Quantization.NONE or infd.spec.precision.calibration is not None:
        # Calibrated: the unquantized model serves until the quantization build's checkpoint is there.
        return None
    if interim and quantization in QUANTIZED_BY_THE_ENGINE_BUILD:
        return None
    if infd.spec.gpus_per_replica == 0 and quantization is not Quantization.FP8:
        # Marlin kernels are CUDA-only; on CPU vLLM picks its kernel from the checkpoint.
        return None
    return _GPU_QUANTIZATION_ARG[quantization]


def vllm_args(
    infd: InferenceDeployment,
    checkpoint: str | None = None,
    launch: list[str] | None = None,
    interim: bool = False,
    quantized: bool = False,
) -> list[str]:
    """`vllm serve` arguments from the spec (and `launch`, a group's node arguments); the user's extra args come
    last so that they win. `checkpoint`: a local directory served in place of the Hub's model: a quantization
    build's checkpoint in the store (`quantized`) or a weight cache entry. `interim`: see quantization_arg."""
    spec = infd.spec
    # Positional: `vllm serve --model` is deprecated ("provide the model as a positional argument").
    model = [checkpoint] if checkpoint else [spec.model.name, "--revision", spec.model.revision]
    args = [
        *model,
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
    quantization = quantization_arg(infd, interim)
    if quantization is not None:
        args += ["--quantization", quantization]
    calibration = spec.precision.calibration
    if quantized and calibration is not None:
        args += ["--quantization", MODELOPT_QUANTIZATION_ARG[spec.precision.quantization]]
        if calibration.kv_cache_dtype is KvCacheDtype.FP8:
            args += ["--kv-cache-dtype", "fp8"]  # the checkpoint carries the calibrated KV scales
    return args + list(launch or []) + list(spec.engine.vllm.extra_args)


def vllm_serving(
    infd: InferenceDeployment,
    quantized_build: str | None = None,
    store: StoreSettings | None = None,
    interim: bool = False,
    weights: str | None = None,
) -> EngineServing:
    """What the vLLM Deployment has of its own around the shared skeleton (serving.py). `weights`: a complete
    weight cache entry to serve from, read-only and offline (render/weight_cache.py)."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    checkpoint = None
    env = list(infd.spec.engine.vllm.env)
    if weights and not quantized_build:
        checkpoint = serving_model_path()
        volume, mount = serving_volume(weights)
        volumes, mounts = [volume], [mount]
        labels = {LABEL_WEIGHT_CACHE: weights}  # the entry is in use while a Deployment carries this
        env = [EnvVar(name="HF_HUB_OFFLINE", value="1"), *env]
    if quantized_build:
        store = store or StoreSettings()
        checkpoint = checkpoint_dir(store.mount_path, quantized_build)
        volumes, mounts = store_mount(store.claim_name, store.mount_path, STORE_VOLUME)
        labels = {LABEL_BUILD: quantized_build}  # which checkpoint serves (controller/facts.py), as for engines
    return EngineServing(
        engine=Engine.VLLM,
        container_name=CONTAINER_NAME,
        image=vllm_image(infd),
        command=list(COMMAND),
        args=vllm_args(infd, checkpoint, interim=interim, quantized=bool(quantized_build)),
        env=env,
        health_path=HEALTH_PATH,
        volumes=volumes,
        mounts=mounts,
        labels=labels,
        pod_annotations=scrape_annotations(infd),
    )


def render_vllm_deployment(
    infd: InferenceDeployment,
    hub_endpoint: str | None = None,
    quantized_build: str | None = None,
    store: StoreSettings | None = None,
    interim: bool = False,
    weights: str | None = None,
) -> dict[str, Any]:
    """The apps/v1 Deployment serving the resource's model with vLLM: on a quantization build's checkpoint once
    `quantized_build` names it, else from the weight cache entry `weights` names when it is given. `interim`: for
    a resource TensorRT-LLM was selected for."""
    serving = vllm_serving(infd, quantized_build, store, interim, weights)
    return render_serving_deployment(infd, serving, hub_endpoint)


def render_vllm_leader_worker_set(
    infd: InferenceDeployment, shape: GroupShape, hub_endpoint: str | None = None, weights: str | None = None
) -> dict[str, Any]:
    """The LeaderWorkerSet serving the resource's model with vLLM over groups of nodes (multinode.py). A
    quantization build's checkpoint is not served by groups yet. `weights`: a complete weight cache entry that
    every leader and worker mounts read-only and loads offline (a ReadWriteMany claim: every node sees it); else
    each pod fetches the model from the Hub."""
    serving = vllm_serving(infd, weights=weights)
    checkpoint = serving_model_path() if weights else None
    leader_args = vllm_args(infd, checkpoint, launch=vllm_group_args(shape, leader=True))
    leader = dataclasses.replace(serving, args=leader_args)
    deployment = render_serving_deployment(one_pod_of(infd, shape), leader, hub_endpoint)
    worker_args = vllm_args(infd, checkpoint, launch=vllm_group_args(shape, leader=False))
    return render_leader_worker_set(infd, deployment, shape, worker_args)
