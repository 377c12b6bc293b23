"""Pinned default images. Changing one changes rendered manifests (and, for TensorRT-LLM, every engine key)."""

# vLLM's OpenAI-compatible server image (GPU build).
VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"
# vLLM's CPU build, used when a replica asks for zero GPUs.
VLLM_CPU_IMAGE = "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.11.0"
# TensorRT-LLM release image: it carries trtllm-build, trtllm-serve and the checkpoint converters.
TRTLLM_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.0.0"
