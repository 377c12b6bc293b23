"""Shared inputs of the TensorRT-LLM render tests: the 70B sample, its EngineBuild as created, accessors."""

from __future__ import annotations

from typing import Any

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import StoreSettings
from inference_operator.render.engine_build import render_engine_build
from tests.support.samples import sample_body

SAMPLE = "llama-3-1-70b-h100-trtllm"
STORE = StoreSettings()
BUILD_UID = "00000000-0000-4000-8000-00000000000b"
SECRET_REF = {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN"}}


def infd_with(**trt: Any) -> InferenceDeployment:
    """The 70B TensorRT-LLM sample with spec.engine.tensorrtLLM fields replaced."""
    body = sample_body(SAMPLE)
    body["spec"]["engine"]["tensorrtLLM"] = {**body["spec"]["engine"]["tensorrtLLM"], **trt}
    return InferenceDeployment.model_validate(body)


# The first release the recipe table has without the engine backend (api/trtllm_recipes.py, PYTORCH_ONLY).
PYTORCH_ONLY_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc21"


def infd_on(image: str | None, **trt: Any) -> InferenceDeployment:
    """The 70B sample on a TensorRT-LLM image (None: the pinned one, unset), its `backend: engine` dropped unless
    given again."""
    body = sample_body(SAMPLE)
    fields = {k: v for k, v in body["spec"]["engine"]["tensorrtLLM"].items() if k != "backend"}
    body["spec"]["engine"]["tensorrtLLM"] = {**fields, **({"image": image} if image else {}), **trt}
    return InferenceDeployment.model_validate(body)


def created_build(infd: InferenceDeployment) -> EngineBuild:
    """The EngineBuild as the API server returns it once created (with a uid)."""
    obj = render_engine_build(infd, STORE)
    obj["metadata"]["uid"] = BUILD_UID
    return EngineBuild.model_validate(obj)


def build_of(**spec_changes: Any) -> EngineBuild:
    build = created_build(infd_with())
    data = build.model_dump(by_alias=True)
    data["spec"] = {**data["spec"], **spec_changes}
    return EngineBuild.model_validate(data)


def pod(obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = obj["spec"]["template"]["spec"]
    return result


def container(obj: dict[str, Any]) -> dict[str, Any]:
    containers = pod(obj)["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def script_of(job: dict[str, Any]) -> str:
    command = container(job)["command"]
    assert command[:2] == ["bash", "-c"]
    return str(command[2])
