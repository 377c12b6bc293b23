"""Default CPU, memory and node-disk sizes of engine pods and build Jobs, from what the spec tells. Pure.

docs/resources.md explains each figure. Every default yields to the spec: spec.resources.cpu / .memory (the
engine container), spec.resources.modelCacheSize (the model-cache emptyDir), and
spec.engine.tensorrtLLM.buildScratchSize (the build Job's scratch emptyDir).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..api.inference_deployment import DType, Quantization
from ..api.quantity import to_bytes

GIB = 1024**3

# A model whose size the operator cannot tell (no spec.model.parametersBillions, no size in its name) is
# sized as an 8B model in 16 bits; set parametersBillions for anything else.
FALLBACK_WEIGHTS_GIB = 15
# Per engine process (the API server and engine core, then one worker per GPU): the Python runtime,
# the CUDA context and pinned staging buffers.
RUNTIME_GIB_PER_PROCESS = 4
# vLLM's CPU build keeps its KV cache in host memory: kv_cache_memory_bytes, or the legacy
# VLLM_CPU_KVCACHE_SPACE in GiB (vllm/platforms/cpu.py at v0.32.0). The default reserves this much for it.
CPU_KV_CACHE_GIB = 4
# Room in a cache for the tokenizer, configs and compile caches (HOME points into the cache), and for the
# Hub client's .incomplete files of a download in progress.
CACHE_HEADROOM_GIB = 4
CACHE_WEIGHTS_FACTOR = 1.25
# A build holds the downloaded checkpoint, its converted copy and the engine being written.
SCRATCH_WEIGHTS_FACTOR = 3
# The container's own writable layer and its logs, beside its emptyDirs.
CONTAINER_DISK_GIB = 2


def gib(size_bytes: float) -> str:
    """Whole GiB, rounded up: requests that read at a glance and never sit below the estimate."""
    return f"{max(1, math.ceil(size_bytes / GIB))}Gi"


def bytes_per_parameter(dtype: DType, quantization: Quantization) -> float:
    """Weight bytes per parameter as served: quantized formats first, then the dtype (auto: 16-bit)."""
    if quantization in (Quantization.FP8, Quantization.INT8, Quantization.INT8_WO):
        return 1.0
    if quantization in (Quantization.INT4_AWQ, Quantization.INT4_GPTQ, Quantization.NVFP4):
        return 0.5
    return 4.0 if dtype is DType.FLOAT32 else 2.0


def weights_bytes(parameters_billions: float | None, dtype: DType, quantization: Quantization) -> float:
    if parameters_billions is None:
        return FALLBACK_WEIGHTS_GIB * GIB
    return parameters_billions * 1e9 * bytes_per_parameter(dtype, quantization)


@dataclass(frozen=True)
class PodSizes:
    """Requests of one engine or build container and the sizeLimit of its disk emptyDir."""

    cpu: str
    memory: str
    disk_size_limit: str  # model-cache (serving) or scratch (build)
    ephemeral_storage: str  # the container's request and limit: its emptyDir plus its own layer and logs


def cpu_cores(gpus: int) -> str:
    """The API server and engine core keep a core each busy, and each GPU worker one more; CPU mode computes on
    its OpenMP threads and gets 4 cores."""
    return str(2 + gpus) if gpus > 0 else "4"


def host_memory_bytes(weights: float, gpus: int, shm_size: int | str) -> float:
    """Weights pass through host memory once while loading, /dev/shm is memory, plus the processes' runtime."""
    processes = 2 + gpus if gpus > 0 else 1
    extra = CPU_KV_CACHE_GIB * GIB if gpus == 0 else 0
    return weights + to_bytes(shm_size) + processes * RUNTIME_GIB_PER_PROCESS * GIB + extra


def _with_container_disk(size_limit: str) -> str:
    return gib(to_bytes(size_limit) + CONTAINER_DISK_GIB * GIB)


def serving_sizes(weights: float, gpus: int, shm_size: int | str, cache_size: int | str | None) -> PodSizes:
    """Defaults of an engine container (the spec's own values are applied over these by the renderer)."""
    cache = (
        str(cache_size) if cache_size is not None else gib(weights * CACHE_WEIGHTS_FACTOR + CACHE_HEADROOM_GIB * GIB)
    )
    return PodSizes(
        cpu=cpu_cores(gpus),
        memory=gib(host_memory_bytes(weights, gpus, shm_size)),
        disk_size_limit=cache,
        ephemeral_storage=_with_container_disk(cache),
    )


def build_sizes(weights: float, gpus: int, shm_size: int | str, scratch_size: int | str | None) -> PodSizes:
    """A build Job's container: conversion loads the checkpoint in host memory; scratch holds three copies."""
    scratch = (
        str(scratch_size)
        if scratch_size is not None
        else gib(weights * SCRATCH_WEIGHTS_FACTOR + CACHE_HEADROOM_GIB * GIB)
    )
    return PodSizes(
        cpu=cpu_cores(gpus),
        memory=gib(host_memory_bytes(weights, gpus, shm_size)),
        disk_size_limit=scratch,
        ephemeral_storage=_with_container_disk(scratch),
    )
