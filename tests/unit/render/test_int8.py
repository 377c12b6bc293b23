"""INT8 (issue 20): int8 (W8A8 SmoothQuant) and int8-wo (weight-only) per engine and TensorRT-LLM family.

Golden files tests/unit/golden/int8-*.yaml: the TensorRT-LLM 1.2.x engine build of the 8B model on A100 (EngineBuild,
its Job, the Deployment), vLLM on a compressed-tensors INT8 checkpoint, and an int8-wo quantization build served
by each PyTorch-backend row (1.2.1 and 1.3.0rc21). Regenerate with `UPDATE_GOLDEN=1 pytest
tests/unit/render/test_int8.py` and review the diff by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.errors import InvalidSpec
from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.api.validation import format_validation_error
from inference_operator.controller.engine_build.desired import refusal
from inference_operator.controller.inference_deployment.desired import PYTORCH_NO_SMOOTHQUANT, intent_for
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import engine_build_spec, quantization_build_spec, render_engine_build
from inference_operator.render.engine_key import engine_build_name, engine_cache_key
from inference_operator.render.service import render_service
from inference_operator.render.trtllm import render_trtllm_deployment
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.quantization import A100, H100, STORE, calibrated, calibrated_body, created_quantization_build
from tests.support.trtllm_fixtures import BUILD_UID, PYTORCH_ONLY_IMAGE, container, script_of
from tests.unit.render.test_render_trtllm import _ReadableDumper

GOLDEN_DIR = Path(__file__).parents[1] / "golden"
T4 = "Tesla-T4"
V100 = "Tesla-V100-SXM2-16GB"


def resource(engine: str, quantization: str, gpu_product: str = A100, **trt: Any) -> InferenceDeployment:
    """The 8B model on one GPU, `quantization` without calibration (the engine quantizes, or the checkpoint is)."""
    body = calibrated_body("i8", engine, quantization=quantization, gpu_product=gpu_product)
    del body["spec"]["precision"]["calibration"]
    body["spec"]["engine"]["tensorrtLLM"] = {"backend": "engine"} | trt
    return InferenceDeployment.model_validate(body)


def created(infd: InferenceDeployment) -> EngineBuild:
    obj = render_engine_build(infd, STORE)
    obj["metadata"]["uid"] = BUILD_UID
    return EngineBuild.model_validate(obj)


def golden(name: str, rendered: str) -> None:
    path = GOLDEN_DIR / f"{name}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}; run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text()


def dump(docs: list[dict[str, Any]]) -> str:
    return yaml.dump_all(docs, Dumper=_ReadableDumper, sort_keys=True)


# --- TensorRT-LLM 1.2.x: the engine build quantizes ------------------------------------------------------


@pytest.mark.parametrize(("quantization", "qformat"), [("int8", "int8_sq"), ("int8-wo", "int8_wo")])
def test_the_engine_build_quantizes_with_quantize_py(quantization: str, qformat: str) -> None:
    script = script_of(render_build_job(created(resource("tensorrt-llm", quantization))))
    assert f"--qformat {qformat}" in script and "quantization/quantize.py" in script
    assert "--kv_cache_dtype" not in script  # the KV cache stays in the activation dtype
    assert "convert_checkpoint.py" not in script
    assert "trtllm-build" in script and "use_fp8_context_fmha" not in script


def test_int8_engine_keys_differ_from_int4_awq_and_from_each_other() -> None:
    keys = {
        q: engine_cache_key(engine_build_spec(resource("tensorrt-llm", q), STORE))
        for q in ("int8", "int8-wo", "int4-awq", "none")
    }
    assert len(set(keys.values())) == 4, keys


def test_int8_quantization_keys_and_names_differ_from_int4_awq() -> None:
    wo, awq = (
        quantization_build_spec(calibrated("q", "tensorrt-llm", quantization=q, gpu_product=A100), STORE)
        for q in ("int8-wo", "int4-awq")
    )
    assert engine_cache_key(wo) != engine_cache_key(awq)
    assert "-qint8wo-" in engine_build_name(wo) and "-qint4awq-" in engine_build_name(awq)


@pytest.mark.parametrize("quantization", ["int8", "int8-wo"])
@pytest.mark.parametrize("product", [T4, V100])
def test_an_int8_engine_build_is_refused_before_ampere_naming_the_fields(quantization: str, product: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        intent_for(resource("tensorrt-llm", quantization, gpu_product=product), OperatorSettings())
    message = str(caught.value)
    assert message.startswith(f"spec.precision.quantization: {quantization} needs compute capability 8.0")
    assert f"spec.resources.gpuProduct {product}" in message and "\n" not in message


def test_an_int8_engine_build_on_a100_and_h100_is_made() -> None:
    for product in (A100, H100):
        intent = intent_for(resource("tensorrt-llm", "int8", gpu_product=product), OperatorSettings())
        assert intent.engine_build is not None and intent.engine_build["spec"]["quantization"] == "int8"


def test_an_int8_engine_build_applied_by_hand_is_refused_on_a_t4() -> None:
    data = created(resource("tensorrt-llm", "int8")).model_dump(mode="json", by_alias=True)
    assert refusal(EngineBuild.model_validate(data)) is None
    data["spec"]["gpuProduct"] = T4
    refused = refusal(EngineBuild.model_validate(data))
    assert refused is not None and refused.startswith("spec.quantization: int8 needs compute capability 8.0")
    assert f"spec.gpuProduct {T4} is Turing (7.5)" in refused


def test_int8_engine_golden() -> None:
    infd = resource("tensorrt-llm", "int8")
    build = created(infd)
    docs = [
        build.model_dump(mode="json", by_alias=True, exclude_none=True),
        render_build_job(build),
        render_trtllm_deployment(infd, build.metadata["name"], STORE),
    ]
    golden("int8-8b-a100-trtllm-1.2.1-engine", dump(docs))


# --- TensorRT-LLM's PyTorch backend: int8-wo from a quantization build, int8 refused ------------------------


@pytest.mark.parametrize("image", [None, PYTORCH_ONLY_IMAGE])
def test_int8_on_the_pytorch_backend_is_refused_naming_the_field(image: str | None) -> None:
    trt = {"backend": "pytorch"} | ({"image": image} if image else {})
    with pytest.raises(InvalidSpec) as caught:
        intent_for(resource("tensorrt-llm", "int8", **trt), OperatorSettings())
    assert str(caught.value) == PYTORCH_NO_SMOOTHQUANT
    assert PYTORCH_NO_SMOOTHQUANT.startswith("spec.precision.quantization: int8")


def test_int8_with_calibration_is_refused_at_admission_naming_the_field() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        calibrated("q", "tensorrt-llm", quantization="int8", gpu_product=A100)
    message = format_validation_error(caught.value)
    assert "spec.precision.calibration" in message and "int8-wo" in message


def test_an_int8_wo_quantization_build_uses_modelopts_weight_only_config() -> None:
    infd = calibrated("q", "tensorrt-llm", quantization="int8-wo", gpu_product=A100)
    intent = intent_for(infd, OperatorSettings())
    assert intent.engine_build is not None and intent.engine_build["spec"]["kind"] == "Quantization"
    script = script_of(render_build_job(created_quantization_build(infd), STORE))
    assert "--qformat int8-wo" in script and "INT8_WEIGHT_ONLY_CFG" in script


def test_an_int8_wo_quantization_build_is_refused_on_a_t4() -> None:
    with pytest.raises(InvalidSpec, match=r"int8-wo needs compute capability 8\.0 or higher"):
        intent_for(calibrated("q", "tensorrt-llm", quantization="int8-wo", gpu_product=T4), OperatorSettings())


@pytest.mark.parametrize(("name", "image"), [("1.2.1", None), ("1.3.0rc21", PYTORCH_ONLY_IMAGE)])
def test_int8_wo_pytorch_golden(name: str, image: str | None) -> None:
    infd = calibrated("a", "tensorrt-llm", quantization="int8-wo", gpu_product=A100, image=image)
    build = created_quantization_build(infd)
    docs = [
        build.model_dump(mode="json", by_alias=True, exclude_none=True),
        render_build_job(build, STORE),
        render_trtllm_deployment(infd, build.metadata["name"], STORE),
    ]
    golden(f"int8-wo-8b-a100-trtllm-{name}-pytorch", dump(docs))


# --- vLLM: compressed-tensors checkpoints; a ModelOpt INT8 checkpoint is refused ----------------------------


@pytest.mark.parametrize("quantization", ["int8", "int8-wo"])
def test_vllm_serves_a_compressed_tensors_checkpoint(quantization: str) -> None:
    args = container(render_vllm_deployment(resource("vllm", quantization)))["args"]
    assert args[args.index("--quantization") + 1] == "compressed-tensors"


def test_vllm_on_cpu_reads_the_method_from_the_checkpoint() -> None:
    body = calibrated_body("c", "vllm", quantization="int8")
    del body["spec"]["precision"]["calibration"]
    body["spec"]["resources"] = {"gpusPerReplica": 0}
    args = container(render_vllm_deployment(InferenceDeployment.model_validate(body)))["args"]
    assert "--quantization" not in args


def test_an_int8_wo_quantization_build_is_refused_for_vllm_naming_w8a16() -> None:
    with pytest.raises(InvalidSpec) as caught:
        intent_for(calibrated("q", "vllm", quantization="int8-wo", gpu_product=A100), OperatorSettings())
    message = str(caught.value)
    assert message.startswith("spec.precision.quantization: vLLM v0.32.0 serves ModelOpt checkpoints")
    assert "no ModelOpt W8A16 method" in message


def test_int8_vllm_golden() -> None:
    infd = resource("vllm", "int8")
    golden("int8-8b-a100-vllm", dump([render_vllm_deployment(infd), render_service(infd, Engine.VLLM)]))


@pytest.mark.parametrize("quantization", ["int8", "int8-wo", "int4-awq", "int4-gptq"])
def test_vllm_serving_a_trtllm_resource_meanwhile_serves_the_checkpoint_unquantized(quantization: str) -> None:
    """The engine build quantizes (or converts) the checkpoint as it is: vLLM, meanwhile or as the fallback, must
    not ask for compressed-tensors or a Marlin kernel on a full-precision one (it would fail at start); it reads
    the checkpoint's own quantization_config instead."""
    infd = resource("tensorrt-llm", quantization)
    args = container(render_vllm_deployment(infd, interim=True))["args"]
    assert "--quantization" not in args and args[0] == infd.spec.model.name
    intent = intent_for(infd, OperatorSettings())
    assert intent.choice.selected is Engine.TENSORRT_LLM
