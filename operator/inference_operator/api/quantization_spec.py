"""Post-training quantization built once (issue 16 §2): the calibration a resource asks for, and what each format
needs of the GPU. Pure data.

A resource with spec.precision.calibration gets its weights quantized once by NVIDIA Model Optimizer
(nvidia-modelopt) into a Hugging Face checkpoint, which vLLM and TensorRT-LLM's PyTorch backend both serve.

The GPU requirement is the format's tensor cores, by CUDA compute capability (NVIDIA, "CUDA GPUs - Compute
Capability", developer.nvidia.com/cuda-gpus), as Model Optimizer's support matrix states it per format
(nvidia.github.io/Model-Optimizer/guides/0_support_matrix.html: FP4 "Blackwell and Later", FP8 "Ada and Later",
W4A16 AWQ and INT8 SmoothQuant "Ampere and Later"):
- FP8 (E4M3 weights and activations): compute capability 8.9 or higher, i.e. Ada (L4, L40, L40S: 8.9), Hopper
  (H100, H200, H20, GH200: 9.0) and Blackwell. Ampere (A100: 8.0, A10/A40: 8.6) has no FP8 tensor cores; vLLM
  v0.32.0 would still load the checkpoint there (ModelOptFp8Config.get_min_capability is 80, weight-only Marlin),
  but without the FP8 speed-up the quantization is for, so it is refused.
- NVFP4 (4-bit float weights and activations): compute capability 10.0 or higher, Blackwell (B200, GB200: 10.0;
  B300, GB300: 10.3; RTX PRO 6000 Blackwell, RTX 5090: 12.0). Hopper has no FP4 tensor cores.
- INT4-AWQ (4-bit integer weights, 16-bit activations): compute capability 8.0 or higher (Ampere and newer), as
  TensorRT-LLM's support matrix lists W4A16 AWQ.
- INT8 (W8A8 SmoothQuant) and INT8 weight-only (W8A16): compute capability 8.0 or higher, as the Model Optimizer
  support matrix lists INT8 SmoothQuant ("Ampere and Later"). Older parts have INT8 tensor cores (Turing 7.5), and
  vLLM v0.32.0's compressed-tensors INT8 schemes would load there (CompressedTensorsW8A8Int8 and
  CompressedTensorsWNA16 get_min_capability 75), but the quantizer and the engine build are only supported from
  Ampere: an operator-run build (engine or quantization) on an older product is refused.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from pydantic import Field

from .base import ApiModel


class CalibrationDataset(enum.StrEnum):
    """Calibration sets nvidia-modelopt 0.47.0 downloads itself (modelopt/torch/utils/dataset_utils.py,
    SUPPORTED_DATASET_CONFIG), the ones its hf_ptq example uses for text models."""

    CNN_DAILYMAIL = "cnn_dailymail"
    PILE = "pile"
    PG19 = "pg19"
    WIKIPEDIA = "wikipedia"
    C4 = "c4"
    WIKITEXT = "wikitext"


class KvCacheDtype(enum.StrEnum):
    AUTO = "auto"  # the KV cache stays in the activation dtype
    FP8 = "fp8"  # an FP8 KV cache, calibrated with the weights (ModelOpt FP8_KV_CFG)


class CalibrationSpec(ApiModel):
    """Quantize the checkpoint once with NVIDIA Model Optimizer (a Job whose result is cached), then serve it."""

    dataset: CalibrationDataset = Field(
        default=CalibrationDataset.CNN_DAILYMAIL,
        description="Calibration set ModelOpt downloads from the Hugging Face Hub (cnn_dailymail, pile, pg19, "
        "wikipedia, c4, wikitext).",
    )
    samples: int = Field(default=512, ge=16, le=8192, description="Calibration samples (ModelOpt's default is 512).")
    max_sample_length: int = Field(
        default=512, ge=64, le=8192, description="Tokens per calibration sample (ModelOpt's default is 512)."
    )
    kv_cache_dtype: KvCacheDtype = Field(
        default=KvCacheDtype.AUTO,
        description="auto keeps the KV cache in the activation dtype; fp8 calibrates an FP8 KV cache too.",
    )


@dataclass(frozen=True)
class GpuGeneration:
    name: str
    compute_capability: tuple[int, int]
    pattern: re.Pattern[str]


def _product(regex: str) -> re.Pattern[str]:
    # Label values look like NVIDIA-H100-80GB-HBM3, NVIDIA-GH200-480GB, NVIDIA-L40S, NVIDIA-A100-SXM4-80GB.
    return re.compile(rf"(?:^|[-_ ]){regex}(?:[-_ ]|$)", re.IGNORECASE)


# nvidia.com/gpu.product labels -> compute capability (developer.nvidia.com/cuda-gpus). Newest first: the first
# match wins, so "RTX-PRO-6000-Blackwell" is not read as an older RTX 6000.
GPU_GENERATIONS: tuple[GpuGeneration, ...] = (
    GpuGeneration("Blackwell", (12, 0), _product(r"(?:RTX[-_ ]?PRO[-_ ]?6000[-_ ]Blackwell.*|RTX[-_ ]?50[0-9]0)")),
    GpuGeneration("Blackwell Ultra", (10, 3), _product(r"G?B300")),
    GpuGeneration("Blackwell", (10, 0), _product(r"G?B(?:100|200)")),
    GpuGeneration("Hopper", (9, 0), _product(r"G?H(?:100|200|800|20)")),
    GpuGeneration("Ada", (8, 9), _product(r"(?:L4|L40S?|RTX[-_ ]?40[0-9]0|RTX[-_ ]?[0-9]000[-_ ]Ada.*)")),
    GpuGeneration("Ampere", (8, 6), _product(r"(?:A10G?|A40|A16|A2|RTX[-_ ]?A[0-9]000|RTX[-_ ]?30[0-9]0)")),
    GpuGeneration("Ampere", (8, 0), _product(r"(?:A100|A800|A30)")),
    GpuGeneration("Turing", (7, 5), _product(r"T4")),
    GpuGeneration("Volta", (7, 0), _product(r"V100")),
)


def gpu_generation(gpu_product: str) -> GpuGeneration | None:
    """The generation a product label names, or None for a label the table does not know."""
    return next((g for g in GPU_GENERATIONS if g.pattern.search(gpu_product)), None)


@dataclass(frozen=True)
class FormatNeed:
    """What a ModelOpt format needs of the GPU: the minimum compute capability and the generations that have it."""

    min_compute_capability: tuple[int, int]
    generations: str

    @property
    def label(self) -> str:
        major, minor = self.min_compute_capability
        return f"sm{major}{minor}"


# Keyed by spec.precision.quantization's wire value (fp8, nvfp4, int4-awq).
FORMAT_NEEDS: dict[str, FormatNeed] = {
    "fp8": FormatNeed((8, 9), "Ada (L4, L40S), Hopper (H100, H200) or Blackwell"),
    "nvfp4": FormatNeed((10, 0), "Blackwell (B200, GB200, B300)"),
    "int4-awq": FormatNeed((8, 0), "Ampere (A100) or newer"),
    "int8-wo": FormatNeed((8, 0), "Ampere (A100) or newer"),
}
# Formats only TensorRT-LLM's engine build quantizes to (quantize.py inside the build Job): the same GPU table
# refuses them on older products, but no quantization build makes them (no engine serves ModelOpt's INT8 W8A8).
ENGINE_BUILD_FORMAT_NEEDS: dict[str, FormatNeed] = {"int8": FormatNeed((8, 0), "Ampere (A100) or newer")}


def gpu_problem(quantization: str, gpu_product: str | None) -> str | None:
    """Why the format cannot run on the product (the message names the field), or None.

    A product the table does not know is trusted (a new part, a custom label): only a known older one is refused.
    """
    need = FORMAT_NEEDS.get(quantization) or ENGINE_BUILD_FORMAT_NEEDS.get(quantization)
    if need is None:
        return (
            f"spec.precision.quantization: {quantization} is not a format ModelOpt quantizes (fp8, nvfp4, int4-awq, "
            "int8-wo)"
        )
    if gpu_product is None:
        return (
            "spec.resources.gpuProduct is required with spec.precision.calibration: the quantization Job calibrates "
            "on a GPU and the format's kernels need a given generation"
        )
    generation = gpu_generation(gpu_product)
    if generation is None or generation.compute_capability >= need.min_compute_capability:
        return None
    major, minor = generation.compute_capability
    need_major, need_minor = need.min_compute_capability
    return (
        f"spec.precision.quantization: {quantization} needs compute capability {need_major}.{need_minor} or "
        f"higher ({need.generations}); spec.resources.gpuProduct {gpu_product} is {generation.name} "
        f"({major}.{minor}), whose tensor cores lack the format"
    )
