"""Pinned default images. Changing one changes rendered manifests (and, for TensorRT-LLM, every engine key)."""

# vLLM's OpenAI server, GPU build (tag scheme: vllm-project/vllm .buildkite/scripts/publish-release-images.sh).
VLLM_IMAGE = "vllm/vllm-openai:v0.31.0"
# vLLM's CPU build (x86_64 + arm64 manifest, same script), used when a replica asks for zero GPUs.
VLLM_CPU_IMAGE = "vllm/vllm-openai-cpu:v0.31.0"
# TensorRT-LLM release image: it carries trtllm-build, trtllm-serve and the checkpoint converters.
TRTLLM_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.0.0"
