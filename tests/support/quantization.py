"""Shared inputs of the quantization-build tests (issue 16 §2): calibrated resources on either engine."""

from __future__ import annotations

from typing import Any

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import StoreSettings
from inference_operator.render.engine_build import render_quantization_build

H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"
B200 = "NVIDIA-B200"
STORE = StoreSettings()
BUILD_UID = "00000000-0000-4000-8000-00000000000c"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def calibrated_body(
    name: str,
    engine: str,
    quantization: str = "fp8",
    gpu_product: str = H100,
    calibration: dict[str, Any] | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """A one-GPU resource of the 8B model asking for a quantization build, served by `engine`."""
    trt: dict[str, Any] = {"backend": "pytorch"} | ({"image": image} if image else {})
    return {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": name, "namespace": "team-a", "uid": "00000000-0000-4000-8000-0000000000a1"},
        "spec": {
            "model": {"name": MODEL, "architecture": "LlamaForCausalLM"},
            "engine": {"preference": engine, "fallback": "vllm", "tensorrtLLM": trt},
            "precision": {
                "dtype": "bfloat16",
                "quantization": quantization,
                "calibration": calibration if calibration is not None else {"samples": 256},
            },
            "parallelism": {"tensor": 1},
            "resources": {"gpuProduct": gpu_product},
        },
    }


def calibrated(name: str, engine: str, **kwargs: Any) -> InferenceDeployment:
    return InferenceDeployment.model_validate(calibrated_body(name, engine, **kwargs))


def created_quantization_build(infd: InferenceDeployment) -> EngineBuild:
    """The quantization EngineBuild as the API server returns it once created (with a uid)."""
    obj = render_quantization_build(infd, STORE)
    obj["metadata"]["uid"] = BUILD_UID
    return EngineBuild.model_validate(obj)
