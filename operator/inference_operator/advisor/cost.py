"""The cost model: monthly GPU-hours and dollars per engine, the compile's cost and its payback.

Every default number comes from the article behind this project ("vLLM vs TensorRT-LLM", March 2026); each
constant says which passage and how it was derived. A resource overrides them with spec.cost.
Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..api.inference_deployment import EngineCost, PreparationPath, TrtllmBackend
from .compile_time import compile_minutes

HOURS_PER_DAY = 24
DAYS_PER_MONTH = 30  # the article's own month: 100M tokens/month = 3.33M tokens/day
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class GpuFigures:
    """Default price and throughputs of one GPU family, with where they come from."""

    family: str
    hourly_price: float
    vllm_tokens_per_gpu_hour: int
    tensorrt_llm_tokens_per_gpu_hour: int
    source: str


# A100: the article's cost table ("Cost Analysis for Different Scenarios"), quoted as is: Lambda's A100 at
# $1.48/h, vLLM 667K and TensorRT-LLM 741K tokens per GPU-hour. The article does not name the model; the
# figures are per single GPU-hour, so they stand for a model that fits one A100 (much smaller than 70B).
A100 = GpuFigures(
    family="A100",
    hourly_price=1.48,
    vllm_tokens_per_gpu_hour=667_000,
    tensorrt_llm_tokens_per_gpu_hour=741_000,
    source="A100 figures from the article's cost table (Lambda $1.48/h; 667K and 741K tokens/GPU-hour)",
)

# H100, price: the article's CoreWeave figure, an 8xH100 cluster at $49.24/h = $6.155 per GPU-hour.
# H100, throughput: the article's only H100 numbers are Llama 3.1 70B served on 8xH100 ("Performance
# Characteristics"): vLLM with advanced optimizations 1200-1400 tok/s, TensorRT-LLM default compile 1400-1600
# tok/s, for the whole 8-GPU server. We take each range's midpoint (1300 and 1500 tok/s), divide by the 8 GPUs
# and multiply by 3600 s: vLLM 1300/8*3600 = 585,000 and TensorRT-LLM 1500/8*3600 = 675,000 tokens/GPU-hour.
# Optimized vLLM against default TensorRT-LLM is the pairing of the article's "about 10% less GPU time" claim.
# Assumption, stated: these are 70B-model figures. We do not rescale them by model size (the article gives no
# rule for it), so a small model on H100 is priced pessimistically; set spec.cost.*TokensPerGpuHour from a
# measurement for real numbers.
H100 = GpuFigures(
    family="H100",
    hourly_price=49.24 / 8,
    vllm_tokens_per_gpu_hour=1300 * SECONDS_PER_HOUR // 8,
    tensorrt_llm_tokens_per_gpu_hour=1500 * SECONDS_PER_HOUR // 8,
    source="H100 figures from the article's Llama 3.1 70B on 8xH100 benchmark (range midpoints / 8 GPUs) and "
    "CoreWeave's $49.24/h for 8xH100",
)

_FAMILIES: tuple[tuple[re.Pattern[str], GpuFigures], ...] = (
    # nvidia.com/gpu.product values: NVIDIA-A100-SXM4-80GB, NVIDIA-A100-SXM4-40GB, NVIDIA-A100-PCIE-40GB,
    # NVIDIA-A100-80GB-PCIe, ...; the article does not tell SXM from PCIe, so both get the same figures.
    (re.compile(r"(?<![A-Z0-9])A100(?![0-9])", re.IGNORECASE), A100),
    # NVIDIA-H100-80GB-HBM3 (SXM), NVIDIA-H100-PCIe, NVIDIA-H100-NVL: the article's cluster is SXM-class.
    (re.compile(r"(?<![A-Z0-9])H100(?![0-9])", re.IGNORECASE), H100),
)

# Pre-Ampere GPUs: TensorRT-LLM's support matrix lists Ampere and newer only (SM80+).
_PRE_AMPERE = re.compile(r"(?<![A-Z0-9])(V100|T4|P100|P40|P4|K80)(?![0-9])", re.IGNORECASE)
# Vendor prefixes of accelerators that are not NVIDIA GPUs; any other label is read as nvidia.com/gpu.product.
_NOT_NVIDIA = re.compile(r"^(AMD|Instinct|Intel|Habana|Gaudi|Google|TPU|AWS|Trainium|Inferentia)", re.I)


def gpu_figures(gpu_product: str | None) -> tuple[GpuFigures, str | None]:
    """Default figures for a GPU product label, and a note when they are A100's, used in place of another's."""
    if gpu_product:
        for pattern, figures in _FAMILIES:
            if pattern.search(gpu_product):
                return figures, None
        return A100, f"the article has no figures for {gpu_product}: A100's are used (spec.cost overrides)"
    return A100, "no spec.resources.gpuProduct: A100 figures are used; set it or spec.cost to override"


def is_nvidia_gpu(gpu_product: str | None) -> bool:
    """Whether a product label names an NVIDIA GPU (unset means any NVIDIA GPU the scheduler picks)."""
    return gpu_product is None or _NOT_NVIDIA.match(gpu_product) is None


def is_pre_ampere(gpu_product: str | None) -> bool:
    """Whether the product is older than Ampere, which TensorRT-LLM does not support."""
    return gpu_product is not None and _PRE_AMPERE.search(gpu_product) is not None


def engine_cost(tokens_per_month: int, tokens_per_gpu_hour: int, gpu_hourly_price: float) -> EngineCost:
    """GPU-hours = tokens / throughput; cost = GPU-hours x price (the article's cost model)."""
    gpu_hours = tokens_per_month / tokens_per_gpu_hour
    return EngineCost(
        tokens_per_gpu_hour=tokens_per_gpu_hour,
        gpu_hours_per_month=gpu_hours,
        cost_per_month=gpu_hours * gpu_hourly_price,
    )


def preparation_path(backend: TrtllmBackend, quantization_build: bool) -> PreparationPath:
    """The one-off preparation TensorRT-LLM's serving path needs (issue 16 §3): a quantization build when the
    resource asks for one (either engine), else an engine compile on the engine backend, else none."""
    if quantization_build:
        return PreparationPath.QUANTIZATION
    if backend is TrtllmBackend.ENGINE:
        return PreparationPath.ENGINE_COMPILE
    return PreparationPath.NONE


def compile_gpu_hours(
    parameters_billions: float | None, build_gpus: int, backend: TrtllmBackend, quantization_build: bool = False
) -> float:
    """GPU-hours of the preparation: its hours times the GPUs the build holds; none for the PyTorch backend in bf16.

    The article times compiles on H100; a slower GPU builds longer, so there this is a lower bound. No published
    figure times a ModelOpt quantization alone: the compile's table stands in as its upper bound, since the engine
    build of an FP8 engine runs that same ModelOpt calibration (examples/quantization/quantize.py) and then
    trtllm-build on top of it.
    """
    if preparation_path(backend, quantization_build) is PreparationPath.NONE:
        return 0.0
    return compile_minutes(parameters_billions) / 60 * max(1, build_gpus)


def payback_days(compile_cost: float, savings_per_month: float) -> float | None:
    """Days of savings that pay for the compile: cost / (savings per month / 30); None if it never does."""
    if savings_per_month <= 0:
        return None
    return compile_cost / (savings_per_month / DAYS_PER_MONTH)
