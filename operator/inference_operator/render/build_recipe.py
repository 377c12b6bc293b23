"""What a TensorRT-LLM engine build runs: checkpoint conversion and the `trtllm-build` flags of each profile.

Pure data and command builders; render/build_job.py wraps them in a Job. The paths of the steps (examples
directory, converter, quantizer, build command) are the recipe table's (api/trtllm_recipes.py): only the 1.2.x
row has an engine build. Facts are those of the pinned release image (api/images.py,
nvcr.io/nvidia/tensorrt-llm/release:1.2.1), from github.com/NVIDIA/TensorRT-LLM:
- trtllm-build flags: tensorrt_llm/commands/build.py (--checkpoint_dir, --output_dir, --max_batch_size,
  --max_input_len, --max_seq_len, --workers) and tensorrt_llm/plugin/plugin.py, which turns every PluginConfig
  field into a flag: dtype plugins take float16|bfloat16|float32|auto|disable, features take enable|disable.
- Conversion: examples/models/core/<family>/convert_checkpoint.py (--model_dir, --output_dir, --dtype,
  --tp_size, --pp_size) for unquantized and AutoAWQ/AutoGPTQ checkpoints; examples/quantization/quantize.py
  (ModelOpt: --qformat fp8|int4_awq|int8_sq|int8_wo|full_prec, --kv_cache_dtype, --awq_block_size) for post-training
  quantization (examples/models/core/llama/README.md, "FP8 Post-Training Quantization" and "AWQ"). The release
  container ships the examples under /app/tensorrt_llm/examples.
Upstream calls this engine workflow "legacy" and recommends the PyTorch backend for new projects
(tensorrt_llm/_deprecation.py, emit_engine_arch_deprecation); it still ships in 1.2.1.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ..api.inference_deployment import DType, Quantization
from ..api.trtllm_recipes import (
    PINNED_RECIPE,
    RECIPES,
    TRTLLM_RELEASE_REPOSITORY,
    EngineBuildSteps,
    recipe_for_release,
    split_image,
)
from ..api.trtllm_spec import BuildProfile

# Part of every engine cache key: bump it when a change here or in build_job.py changes the engine's bytes
# (a flag, a conversion step), so that existing engines are rebuilt instead of silently reused.
RECIPE_VERSION = 1

# The engine build of the pinned release line; build_job.py checks the EngineBuild's image has the same steps.
if PINNED_RECIPE.build is None:  # pragma: no cover - the pin must have an engine build while this module exists
    raise RuntimeError(f"the pinned TensorRT-LLM release line {PINNED_RECIPE.name} has no engine build")
BUILD_STEPS: EngineBuildSteps = PINNED_RECIPE.build
EXAMPLES_DIR = BUILD_STEPS.examples_dir
QUANTIZE_SCRIPT = f"{EXAMPLES_DIR}/{BUILD_STEPS.quantizer}"

# Hugging Face architectures whose converter lives in examples/models/core/<dir>/convert_checkpoint.py of the
# pinned release (Mistral and Mixtral use the LLaMA converter: examples/models/core/llama/README.md).
CONVERTER_DIRS: dict[str, str] = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "llama",
    "MixtralForCausalLM": "llama",
    "QWenLMHeadModel": "qwen",
    "Qwen2ForCausalLM": "qwen",
    "Qwen2MoeForCausalLM": "qwen",
    "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma",
    "PhiForCausalLM": "phi",
    "Phi3ForCausalLM": "phi",
    "Phi3SmallForCausalLM": "phi",
    "GPT2LMHeadModel": "gpt",
    "GPTBigCodeForCausalLM": "gpt",
    "Starcoder2ForCausalLM": "gpt",
    "InternLM2ForCausalLM": "internlm2",
    "RecurrentGemmaForCausalLM": "recurrentgemma",
    "MambaForCausalLM": "mamba",
    "CohereForCausalLM": "commandr",
}
# Pre-quantized (AutoAWQ/AutoGPTQ) checkpoints of an unknown family are tried with the LLaMA converter, the
# one most fine-tunes derive from; the build fails with the converter's message if that is wrong.
DEFAULT_CONVERTER_DIR = "llama"

# NVIDIA GPU product labels (nvidia.com/gpu.product) of Hopper parts: H100, H200, H800, H20, GH200.
_HOPPER = re.compile(r"(?:^|[-_ ])G?H(?:100|200|800|20)(?:[-_ ]|$)", re.IGNORECASE)


def is_hopper(gpu_product: str) -> bool:
    """Whether the product label names a Hopper GPU, e.g. NVIDIA-H100-80GB-HBM3 or NVIDIA-GH200-480GB."""
    return _HOPPER.search(gpu_product) is not None


@dataclass(frozen=True)
class ProfileFlag:
    """One trtllm-build flag a profile sets, and why."""

    flag: str
    value: str
    why: str
    fp8_on_hopper_only: bool = False


# The profiles. `default` builds in about the article's compile times with the plugins every upstream
# example uses; `aggressive` spends build time for throughput. Each flag is pinned even where it equals
# today's default: a release changing a default changes the image (hence the key), never an engine silently.
_DEFAULT_FLAGS: tuple[ProfileFlag, ...] = (
    ProfileFlag(
        "--gemm_plugin",
        "auto",
        "cuBLASLt GEMM plugin in the checkpoint's dtype; every llama README build uses it and it avoids the "
        "FP16 accuracy issues of TensorRT's own GEMMs ('Try use_gemm_plugin to prevent accuracy issue').",
    ),
    ProfileFlag(
        "--gpt_attention_plugin",
        "auto",
        "fused attention plugin, required for in-flight batching and the paged KV cache trtllm-serve uses.",
    ),
    ProfileFlag(
        "--use_paged_context_fmha",
        "enable",
        "context (prefill) attention reads the paged KV cache, which KV-cache reuse and chunked prefill "
        "need at serve time; costs no build time.",
    ),
)
_AGGRESSIVE_FLAGS: tuple[ProfileFlag, ...] = (
    *_DEFAULT_FLAGS,
    ProfileFlag(
        "--multiple_profiles",
        "enable",
        "several TensorRT optimization profiles for different batch shapes: longer build, 'no "
        "performance downsides, so it is recommended for production builds' (performance tuning guide).",
    ),
    ProfileFlag(
        "--use_fp8_context_fmha",
        "enable",
        "FP8 context attention ('further acceleration', llama README, FP8 PTQ); needs the FP8 KV cache that "
        "quantize.py writes for fp8 and Hopper's FP8 attention kernels, so only fp8 builds on Hopper get it.",
        fp8_on_hopper_only=True,
    ),
)
BUILD_PROFILES: dict[BuildProfile, tuple[ProfileFlag, ...]] = {
    BuildProfile.DEFAULT: _DEFAULT_FLAGS,
    BuildProfile.AGGRESSIVE: _AGGRESSIVE_FLAGS,
}


def profile_flags(profile: BuildProfile, quantization: Quantization, gpu_product: str) -> list[str]:
    """The flags a profile adds to trtllm-build for this quantization and GPU product."""
    fp8_hopper = quantization is Quantization.FP8 and is_hopper(gpu_product)
    args: list[str] = []
    for item in BUILD_PROFILES[profile]:
        if item.fp8_on_hopper_only and not fp8_hopper:
            continue
        args += [item.flag, item.value]
    return args


def converter_script(architecture: str | None) -> str | None:
    """convert_checkpoint.py of the architecture's family; None when models/core has no converter for it."""
    directory = CONVERTER_DIRS.get(architecture or "")
    return _converter_path(directory) if directory else None


def _converter_path(family_dir: str) -> str:
    return f"{EXAMPLES_DIR}/{BUILD_STEPS.converter.format(family=family_dir)}"


@dataclass(frozen=True)
class ConvertInputs:
    """Where conversion reads and writes, and what shapes the TensorRT-LLM checkpoint."""

    hf_dir: str
    out_dir: str
    architecture: str | None
    dtype: DType
    quantization: Quantization
    tensor: int
    pipeline: int


def _converter(inputs: ConvertInputs, script: str) -> str:
    return shlex.join(
        [
            "python3",
            script,
            "--model_dir",
            inputs.hf_dir,
            "--output_dir",
            inputs.out_dir,
            "--dtype",
            inputs.dtype.value,
            "--tp_size",
            str(inputs.tensor),
            "--pp_size",
            str(inputs.pipeline),
        ]
    )


def _quantizer(inputs: ConvertInputs, qformat: str, *extra: str) -> str:
    return shlex.join(
        [
            "python3",
            QUANTIZE_SCRIPT,
            "--model_dir",
            inputs.hf_dir,
            "--output_dir",
            inputs.out_dir,
            "--dtype",
            inputs.dtype.value,
            "--qformat",
            qformat,
            *extra,
            "--tp_size",
            str(inputs.tensor),
            "--pp_size",
            str(inputs.pipeline),
        ]
    )


# quantize.py's --qformat choices for INT8 (examples/quantization/quantize.py: nvfp4, fp8, int8_sq, int4_awq,
# w4a8_awq, int8_wo, int4_wo, full_prec; --kv_cache_dtype int8|fp8), read through the search index at a commit
# not confirmed to be the v1.2.1 tag. "All of the checkpoint generated by convert_checkpoint.py or quantize.py
# (Modelopt) can share the same building commands" (examples/models/core/mpt/README.md, same caveat).
INT8_QFORMATS: dict[Quantization, str] = {Quantization.INT8: "int8_sq", Quantization.INT8_WO: "int8_wo"}


def convert_commands(inputs: ConvertInputs) -> list[str]:
    """Shell lines turning the downloaded Hugging Face checkpoint into a TensorRT-LLM checkpoint."""
    family = converter_script(inputs.architecture)
    fallback = _converter_path(DEFAULT_CONVERTER_DIR)
    if inputs.quantization is Quantization.FP8:
        # ModelOpt FP8 weights and activations plus an FP8 KV cache (what FP8 context FMHA reads).
        return [_quantizer(inputs, "fp8", "--kv_cache_dtype", "fp8")]
    if inputs.quantization in INT8_QFORMATS:
        # ModelOpt INT8 SmoothQuant (W8A8) or INT8 weight-only; the KV cache stays in the activation dtype. The
        # checkpoint builds with the common trtllm-build line: no extra flag for either format.
        return [_quantizer(inputs, INT8_QFORMATS[inputs.quantization])]
    if inputs.quantization is Quantization.INT4_GPTQ:
        # GPTQ needs an AutoGPTQ checkpoint; the converter reads its quantization_config (no desc_act).
        return [_converter(inputs, family or fallback)]
    if inputs.quantization is Quantization.INT4_AWQ:
        # An AutoAWQ checkpoint (what vLLM's fallback needs too) is converted; a full-precision one quantized.
        config = shlex.quote(f"{inputs.hf_dir}/config.json")
        return [
            f"if grep -q '\"quantization_config\"' {config}; then",
            f"  {_converter(inputs, family or fallback)}",
            "else",
            f"  {_quantizer(inputs, 'int4_awq', '--awq_block_size', '128')}",
            "fi",
        ]
    if family is not None:
        return [_converter(inputs, family)]
    # No family converter: ModelOpt exports any architecture it knows; full_prec keeps weights unquantized.
    return [_quantizer(inputs, "full_prec")]


# NGC's release repository is versioned by its tag; the recipe table (api/trtllm_recipes.py) says which release
# lines have an engine build. Upstream removed the engine workflow after 1.3.0rc20 (examples:
# NVIDIA/TensorRT-LLM#15763, Python modules: #15918), so no later row has one.
ENGINE_BUILD_LINES = ", ".join(r.name.value for r in RECIPES if r.build is not None)


def image_recipe_problem(image: str) -> str | None:
    """Why the engine build recipe cannot run in this image (the message names spec.image), or None.

    Only what is known is refused: a vLLM image, an NGC TensorRT-LLM release whose line has no engine build, and
    one outside the table's release lines. Any other image (a company's own build, a digest) is trusted to carry
    the 1.2 layout.
    """
    repository, tag = split_image(image)
    if "vllm" in repository.rsplit("/", 1)[-1].lower():
        return f"spec.image: {image} is a vLLM image; an engine is built by a TensorRT-LLM release image"
    if repository != TRTLLM_RELEASE_REPOSITORY or tag is None:
        return None
    recipe = recipe_for_release(tag)
    if recipe is None:
        return (
            f"spec.image: TensorRT-LLM release {tag} is not one the engine build recipe supports "
            f"({ENGINE_BUILD_LINES}): its trtllm-build and converter paths are checked per release line, and "
            "upstream main has removed the engine workflow (NVIDIA/TensorRT-LLM#15763); use an image of a "
            "supported line, or the PyTorch backend"
        )
    if recipe.build is None:
        return (
            f"spec.image: TensorRT-LLM release {tag} ({recipe.name.value}) has no engine build: upstream removed "
            "trtllm-build and the converters after 1.3.0rc20 (NVIDIA/TensorRT-LLM#15918); use a 1.2.x image, or "
            "the PyTorch backend"
        )
    return None
