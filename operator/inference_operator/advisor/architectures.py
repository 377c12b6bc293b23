"""Which Hugging Face architectures TensorRT-LLM can serve, and a model's architecture and size from its name.

Sources, for the pinned release image (nvcr.io/nvidia/tensorrt-llm/release:1.0.0):
- TensorRT-LLM documentation, "Support Matrix" of the 1.0 release line (container 25.06, TensorRT 10.11):
  https://nvidia.github.io/TensorRT-LLM/reference/support-matrix.html
  (docs/source/reference/support-matrix.md in github.com/NVIDIA/TensorRT-LLM). Its "Models (PyTorch Backend)"
  table names Hugging Face architectures directly; its "Models (TensorRT Backend)" list names model families.
- The families of the TensorRT backend list are turned into Hugging Face `architectures` names with the
  converter registry `MODEL_MAP` in tensorrt_llm/models/__init__.py of the same release line, keeping only
  decoder-only text generators (the operator serves OpenAI completions; BERT, T5, Whisper, DiT are left out).
"""

from __future__ import annotations

import re

from ..api.inference_deployment import TrtllmBackend

# Families of the support matrix's "TensorRT Backend" list, as MODEL_MAP spells their HF architectures.
TRTLLM_ENGINE_ARCHITECTURES: frozenset[str] = frozenset(
    {
        "ArcticForCausalLM",  # Arctic
        "BaichuanForCausalLM",  # Baichuan/Baichuan2
        "BaiChuanForCausalLM",
        "BloomForCausalLM",  # BLOOM
        "ChatGLMModel",  # ChatGLM/ChatGLM2/ChatGLM3, GLM-4
        "ChatGLMForConditionalGeneration",
        "DbrxForCausalLM",  # DBRX
        "ExaoneForCausalLM",  # Exaone
        "FalconForCausalLM",  # Falcon
        "RWForCausalLM",  # Falcon's original remote-code name
        "GemmaForCausalLM",  # Gemma
        "Gemma2ForCausalLM",  # Gemma2
        "GPT2LMHeadModel",  # GPT
        "GPTBigCodeForCausalLM",  # SantaCoder, StarCoder
        "Starcoder2ForCausalLM",  # StarCoder2
        "GPTJForCausalLM",  # GPT-J
        "GPTNeoXForCausalLM",  # GPT-NeoX
        "GraniteForCausalLM",  # Granite-3.0
        "GraniteMoeForCausalLM",
        "Grok1ModelForCausalLM",  # Grok-1
        "InternLMForCausalLM",  # InternLM
        "InternLM2ForCausalLM",  # InternLM2
        "LlamaForCausalLM",  # LLaMA 1/2/3/3.1, Code LLaMA, Smaug
        "MambaForCausalLM",  # Mamba
        "NemotronForCausalLM",  # Nemotron, Minitron
        "MistralForCausalLM",  # Mistral, Mistral NeMo
        "MixtralForCausalLM",  # Mixtral
        "MPTForCausalLM",  # MPT, Replit Code
        "MptForCausalLM",
        "OPTForCausalLM",  # OPT
        "PhiForCausalLM",  # Phi-1.5/Phi-2
        "Phi3ForCausalLM",  # Phi-3
        "Phi3SmallForCausalLM",
        "QWenLMHeadModel",  # Qwen
        "Qwen2ForCausalLM",  # Qwen1.5/Qwen2
        "Qwen2MoeForCausalLM",
        "Qwen3ForCausalLM",  # Qwen3
        "RecurrentGemmaForCausalLM",  # RecurrentGemma
        "SkyworkForCausalLM",  # Skywork
    }
)

# The support matrix's "Models (PyTorch Backend)" table, generative rows only.
TRTLLM_PYTORCH_ARCHITECTURES: frozenset[str] = frozenset(
    {
        "DeciLMForCausalLM",
        "DeepseekV3ForCausalLM",
        "Exaone4ForCausalLM",
        "Gemma3ForCausalLM",
        "Gemma3ForConditionalGeneration",
        "HCXVisionForCausalLM",
        "LlavaLlamaModel",
        "LlavaNextForConditionalGeneration",
        "LlamaForCausalLM",
        "Llama4ForConditionalGeneration",
        "MistralForCausalLM",
        "Mistral3ForConditionalGeneration",
        "MixtralForCausalLM",
        "MllamaForConditionalGeneration",
        "NemotronForCausalLM",
        "NemotronNASForCausalLM",
        "Phi4MMForCausalLM",
        "Qwen2ForCausalLM",
        "Qwen2VLForConditionalGeneration",
        "Qwen2_5_VLForConditionalGeneration",
        "Qwen3ForCausalLM",
        "Qwen3MoeForCausalLM",
    }
)


def trtllm_supports(architecture: str, backend: TrtllmBackend) -> bool:
    """Whether TensorRT-LLM's chosen backend serves this Hugging Face architecture (case-sensitive)."""
    table = TRTLLM_ENGINE_ARCHITECTURES if backend is TrtllmBackend.ENGINE else TRTLLM_PYTORCH_ARCHITECTURES
    return architecture in table


# Repository-id patterns (matched from the start, case-insensitively) to the `architectures` entry of the
# models' config.json on the Hugging Face Hub. First match wins, so variants come before their family; a None
# stops the search for variants whose architecture differs by size or modality and is not guessed.
_NAME_PATTERNS: tuple[tuple[str, str | None], ...] = (
    (r"meta-llama/Llama-4-", "Llama4ForConditionalGeneration"),
    (r"meta-llama/Llama-3\.2-\d+B-Vision", "MllamaForConditionalGeneration"),
    (r"meta-llama/(Meta-)?Llama-[23]", "LlamaForCausalLM"),
    (r"meta-llama/CodeLlama-", "LlamaForCausalLM"),
    (r"(codellama|TinyLlama|NousResearch)/", "LlamaForCausalLM"),
    (r"deepseek-ai/DeepSeek-R1-Distill-Llama-", "LlamaForCausalLM"),
    (r"deepseek-ai/DeepSeek-R1-Distill-Qwen-", "Qwen2ForCausalLM"),
    (r"deepseek-ai/DeepSeek-(V3|R1)", "DeepseekV3ForCausalLM"),
    (r"mistralai/Mixtral-", "MixtralForCausalLM"),
    (r"mistralai/Mistral-Small-3\.[1-9]", "Mistral3ForConditionalGeneration"),
    (r"mistralai/(Mistral-(\d|Nemo|Large|Small)|Ministral-)", "MistralForCausalLM"),
    (r"Qwen/Qwen2\.5-VL-", "Qwen2_5_VLForConditionalGeneration"),
    (r"Qwen/Qwen2-VL-", "Qwen2VLForConditionalGeneration"),
    (r"Qwen/Qwen[0-9.]*-(VL|Omni|Audio|Next)", None),
    (r"Qwen/Qwen3-[^/]*-A\d+(\.\d+)?B", "Qwen3MoeForCausalLM"),
    (r"Qwen/Qwen3-", "Qwen3ForCausalLM"),
    (r"Qwen/(Qwen2-57B-A14B|Qwen1\.5-MoE-)", "Qwen2MoeForCausalLM"),
    (r"Qwen/(Qwen2\.5-|Qwen2-|Qwen1\.5-|QwQ-)", "Qwen2ForCausalLM"),
    (r"Qwen/Qwen-\d", "QWenLMHeadModel"),
    (r"google/gemma-3n", None),
    (r"google/gemma-3-1b", "Gemma3ForCausalLM"),
    (r"google/gemma-3-", "Gemma3ForConditionalGeneration"),
    (r"google/gemma-2-", "Gemma2ForCausalLM"),
    (r"google/(gemma-(1\.1-)?\d+b|codegemma-)", "GemmaForCausalLM"),
    (r"google/recurrentgemma-", "RecurrentGemmaForCausalLM"),
    (r"microsoft/Phi-3\.5-MoE", "PhiMoEForCausalLM"),
    (r"microsoft/Phi-3(\.5)?-vision", "Phi3VForCausalLM"),
    (r"microsoft/Phi-3-small", "Phi3SmallForCausalLM"),
    (r"microsoft/Phi-4-multimodal", "Phi4MMForCausalLM"),
    (r"microsoft/(Phi-3|phi-4)", "Phi3ForCausalLM"),
    (r"microsoft/phi-(1_5|2)$", "PhiForCausalLM"),
    (r"tiiuae/falcon-(7b|40b|180b)", "FalconForCausalLM"),
    (r"tiiuae/Falcon3-\d", "LlamaForCausalLM"),
    (r"(openai-community/)?gpt2(-medium|-large|-xl)?$", "GPT2LMHeadModel"),
    (r"bigcode/starcoder2-", "Starcoder2ForCausalLM"),
    (r"bigcode/(starcoder|santacoder|gpt_bigcode)", "GPTBigCodeForCausalLM"),
    (r"EleutherAI/gpt-j-", "GPTJForCausalLM"),
    (r"EleutherAI/(gpt-neox-|pythia-)", "GPTNeoXForCausalLM"),
    (r"facebook/opt-", "OPTForCausalLM"),
    (r"bigscience/bloom", "BloomForCausalLM"),
    (r"mosaicml/mpt-", "MPTForCausalLM"),
    (r"databricks/dbrx-", "DbrxForCausalLM"),
    (r"internlm/internlm2", "InternLM2ForCausalLM"),
    (r"baichuan-inc/Baichuan2?-", "BaichuanForCausalLM"),
    (r"(THUDM|zai-org)/(chatglm[23]-|glm-4-9b-chat)", "ChatGLMModel"),
    (r"ibm-granite/granite-3\.\d-\d+b-a\d+m", "GraniteMoeForCausalLM"),
    (r"ibm-granite/granite-3\.", "GraniteForCausalLM"),
    (r"openai/gpt-oss-", "GptOssForCausalLM"),
)
_COMPILED_PATTERNS = tuple((re.compile(pattern, re.IGNORECASE), arch) for pattern, arch in _NAME_PATTERNS)


def architecture_from_name(model_name: str) -> str | None:
    """The Hugging Face architecture of a well-known repository id; None when the name does not tell it.

    None means "unknown architecture": the decision then keeps vLLM and asks for spec.model.architecture.
    """
    for pattern, architecture in _COMPILED_PATTERNS:
        if pattern.match(model_name):
            return architecture
    return None


# "8B", "0.5B", "135M", and mixture-of-experts "8x7B", as whole words of the repository's name.
_SIZE = re.compile(r"(?<![A-Za-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)([BM])(?![A-Za-z0-9])", re.IGNORECASE)


def parameters_billions_from_name(model_name: str) -> float | None:
    """Size in billions of parameters written in the name (first match); None when the name does not say.

    A mixture of experts "8x7B" counts as 8 x 7: an upper bound, which suits the compile-time estimate.
    """
    match = _SIZE.search(model_name.rsplit("/", 1)[-1])
    if match is None:
        return None
    experts, size, unit = match.groups()
    value = float(size) * (int(experts) if experts else 1)
    return value / 1000 if unit.upper() == "M" else value


# num_hidden_layers of the checkpoints' config.json on the Hugging Face Hub (meta-llama/Llama-3.1-{8B,70B,405B},
# Llama-3.3-70B, Qwen/Qwen2.5-{7B,72B}, deepseek-ai/DeepSeek-{V3,R1}, mistralai/Mixtral-8x7B): pipeline stages
# split layers, so a pipeline size above this cannot be served.
_LAYER_PATTERNS: tuple[tuple[str, int], ...] = (
    (r"llama-3\.[123]-8b", 32),
    (r"llama-3\.[13]-70b", 80),
    (r"llama-3\.1-405b", 126),
    (r"qwen2\.5-7b", 28),
    (r"qwen2\.5-72b", 80),
    (r"deepseek-(v3|r1)(?![-a-z0-9]*distill)", 61),
    (r"mixtral-8x7b", 32),
)
_COMPILED_LAYERS = tuple((re.compile(pattern, re.IGNORECASE), layers) for pattern, layers in _LAYER_PATTERNS)


def layers_from_name(model_name: str) -> int | None:
    """The hidden layers of a well-known checkpoint, from its Hub name; None when the name is not known."""
    for pattern, layers in _COMPILED_LAYERS:
        if pattern.search(model_name):
            return layers
    return None
