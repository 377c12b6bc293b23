"""Quantization builds (issue 16 §2): the key, one build shared by engines, GPU refusals, rendered commands, goldens.

Golden files tests/unit/golden/quantization-*.yaml: the quantization EngineBuild, its Job and the serving
Deployment on the checkpoint, per engine and TensorRT-LLM recipe row. Regenerate with
`UPDATE_GOLDEN=1 pytest tests/unit/render/test_quantization_build.py` and review the diff by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.api.engine_build import BuildKind, EngineBuild, EngineBuildSpec
from inference_operator.api.errors import InvalidSpec
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.labels import LABEL_BUILD
from inference_operator.api.quantization_spec import gpu_generation, gpu_problem
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.engine_build.desired import refusal
from inference_operator.controller.inference_deployment.desired import intent_for
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import quantization_build_spec
from inference_operator.render.engine_key import engine_build_name, engine_cache_key
from inference_operator.render.trtllm import render_trtllm_deployment
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.quantization import A100, B200, H100, STORE, calibrated, calibrated_body, created_quantization_build
from tests.support.trtllm_fixtures import PYTORCH_ONLY_IMAGE, container, pod
from tests.unit.render.test_render_trtllm import _ReadableDumper

GOLDEN_DIR = Path(__file__).parents[1] / "golden"


def key(infd: InferenceDeployment) -> str:
    return engine_cache_key(quantization_build_spec(infd, STORE))


# --- the GPU a format needs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "generation", "capability"),
    [
        ("NVIDIA-A100-SXM4-80GB", "Ampere", (8, 0)),
        ("NVIDIA-A10G", "Ampere", (8, 6)),
        ("NVIDIA-L4", "Ada", (8, 9)),
        ("NVIDIA-L40S", "Ada", (8, 9)),
        ("NVIDIA-H100-80GB-HBM3", "Hopper", (9, 0)),
        ("NVIDIA-GH200-480GB", "Hopper", (9, 0)),
        ("NVIDIA-B200", "Blackwell", (10, 0)),
        ("NVIDIA-GB300", "Blackwell Ultra", (10, 3)),
        ("NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition", "Blackwell", (12, 0)),
        ("Tesla-T4", "Turing", (7, 5)),
    ],
)
def test_product_labels_map_to_their_compute_capability(
    product: str, generation: str, capability: tuple[int, int]
) -> None:
    found = gpu_generation(product)
    assert found is not None and (found.name, found.compute_capability) == (generation, capability)


@pytest.mark.parametrize(
    ("quantization", "product", "ok"),
    [
        ("fp8", A100, False),
        ("fp8", "NVIDIA-A10G", False),
        ("fp8", "NVIDIA-L40S", True),  # Ada has FP8 tensor cores (8.9): not only Hopper
        ("fp8", "NVIDIA-L4", True),
        ("fp8", H100, True),
        ("fp8", B200, True),
        ("nvfp4", H100, False),
        ("nvfp4", "NVIDIA-L40S", False),
        ("nvfp4", B200, True),
        ("int4-awq", A100, True),
        ("int4-awq", "Tesla-T4", False),
        ("fp8", "Company-Custom-Accelerator", True),  # unknown labels are trusted
    ],
)
def test_formats_are_refused_on_older_gpus_naming_the_field(quantization: str, product: str, ok: bool) -> None:
    problem = gpu_problem(quantization, product)
    assert (problem is None) is ok, problem
    if problem:
        assert problem.startswith(f"spec.precision.quantization: {quantization} needs compute capability")
        assert f"spec.resources.gpuProduct {product}" in problem and "\n" not in problem


def test_fp8_on_a100_is_refused_by_the_intent_with_the_reason() -> None:
    with pytest.raises(InvalidSpec) as caught:
        intent_for(calibrated("q", "vllm", gpu_product=A100), OperatorSettings())
    assert "needs compute capability 8.9 or higher" in str(caught.value)
    assert "NVIDIA-A100-SXM4-80GB is Ampere (8.0)" in str(caught.value)


def test_nvfp4_on_h100_is_refused_by_the_intent_with_the_reason() -> None:
    with pytest.raises(InvalidSpec) as caught:
        intent_for(calibrated("q", "tensorrt-llm", quantization="nvfp4", gpu_product=H100), OperatorSettings())
    assert str(caught.value).startswith("spec.precision.quantization: nvfp4 needs compute capability 10.0")
    assert "is Hopper (9.0)" in str(caught.value)


def test_int4_awq_is_refused_for_vllm_which_has_no_modelopt_awq_method() -> None:
    with pytest.raises(InvalidSpec, match=r"vLLM v0\.32\.0 serves ModelOpt checkpoints in fp8 and nvfp4"):
        intent_for(calibrated("q", "vllm", quantization="int4-awq", gpu_product=A100), OperatorSettings())
    intent = intent_for(calibrated("q", "tensorrt-llm", quantization="int4-awq", gpu_product=A100), OperatorSettings())
    assert intent.engine_build is not None


def test_the_engine_backend_with_calibration_is_refused() -> None:
    body = calibrated_body("q", "tensorrt-llm")
    body["spec"]["engine"]["tensorrtLLM"]["backend"] = "engine"
    with pytest.raises(InvalidSpec, match=r"^spec.precision.calibration: the engine backend quantizes"):
        intent_for(InferenceDeployment.model_validate(body), OperatorSettings())


def test_nvfp4_without_calibration_is_refused_naming_the_field() -> None:
    body = calibrated_body("q", "vllm", quantization="nvfp4", gpu_product=B200)
    del body["spec"]["precision"]["calibration"]
    with pytest.raises(ValueError, match=r"nvfp4 needs spec\.precision\.calibration"):
        InferenceDeployment.model_validate(body)


# --- the key: one build per key, shared by engines -------------------------------------------------------


def test_a_vllm_and_a_trtllm_resource_of_the_same_model_share_one_build() -> None:
    vllm = intent_for(calibrated("a", "vllm"), OperatorSettings())
    trt = intent_for(calibrated("b", "tensorrt-llm"), OperatorSettings())
    assert vllm.engine_build is not None and trt.engine_build is not None
    assert vllm.engine_build == trt.engine_build
    assert vllm.engine_build["spec"]["kind"] == "Quantization"
    assert "ownerReferences" not in vllm.engine_build["metadata"]  # a cache entry: never deleted with a resource


def test_the_key_ignores_the_gpu_product_and_parallelism_but_not_the_formats_gpu_need() -> None:
    h100 = calibrated("a", "vllm")
    h200 = calibrated("a", "vllm", gpu_product="NVIDIA-H200")
    assert key(h100) == key(h200)
    body = calibrated_body("a", "vllm")
    body["spec"]["parallelism"]["tensor"] = 2
    assert key(InferenceDeployment.model_validate(body)) == key(h100)


@pytest.mark.parametrize(
    "change",
    [
        {"calibration": {"samples": 128}},
        {"calibration": {"dataset": "pile", "samples": 256}},
        {"calibration": {"samples": 256, "kvCacheDtype": "fp8"}},
        {"calibration": {"samples": 256, "maxSampleLength": 1024}},
        {"quantization": "nvfp4", "gpu_product": B200},
    ],
)
def test_the_key_changes_with_what_changes_the_checkpoint(change: dict[str, Any]) -> None:
    assert key(calibrated("a", "vllm", **change)) != key(calibrated("a", "vllm"))


def test_the_key_changes_with_the_model_revision_dtype_and_quantizer_image() -> None:
    base = quantization_build_spec(calibrated("a", "vllm"), STORE)
    for field, value in [("revision", "abc123"), ("dtype", "float16"), ("image", "example.com/modelopt:1")]:
        changed = EngineBuildSpec.model_validate(base.model_dump() | {field: value})
        assert engine_cache_key(changed) != engine_cache_key(base), field


def test_a_quantization_build_is_named_after_model_format_and_key() -> None:
    spec = quantization_build_spec(calibrated("a", "vllm"), STORE)
    assert spec.kind is BuildKind.QUANTIZATION
    assert engine_build_name(spec) == f"llama-3-1-8b-instruct-qfp8-{engine_cache_key(spec)}"


# --- rendered commands and goldens ---------------------------------------------------------------------------


def test_vllm_serves_the_checkpoint_with_modelopt_from_the_store_read_only() -> None:
    infd = calibrated("a", "vllm", calibration={"kvCacheDtype": "fp8"})
    build = created_quantization_build(infd)
    name = build.metadata["name"]
    dep = render_vllm_deployment(infd, None, name, STORE)
    args = container(dep)["args"]
    assert args[0] == f"{STORE.mount_path}/{name}/checkpoint" and "--revision" not in args
    assert args[args.index("--quantization") + 1] == "modelopt"
    assert args[args.index("--kv-cache-dtype") + 1] == "fp8"
    assert args[args.index("--served-model-name") + 1] == "meta-llama/Llama-3.1-8B-Instruct"
    assert dep["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == name
    mount = next(m for m in container(dep)["volumeMounts"] if m["mountPath"] == STORE.mount_path)
    assert mount["readOnly"] is True
    # Until then: the unquantized model from the Hub, no --quantization at all.
    interim = container(render_vllm_deployment(infd))["args"]
    assert interim[0] == infd.spec.model.name and "--quantization" not in interim


def test_vllm_serves_nvfp4_with_modelopt_fp4() -> None:
    infd = calibrated("a", "vllm", quantization="nvfp4", gpu_product=B200)
    args = container(render_vllm_deployment(infd, None, "b", STORE))["args"]
    assert args[args.index("--quantization") + 1] == "modelopt_fp4"


def test_trtllm_pytorch_serves_the_checkpoint_from_the_store() -> None:
    infd = calibrated("b", "tensorrt-llm")
    name = created_quantization_build(infd).metadata["name"]
    dep = render_trtllm_deployment(infd, name, STORE)
    args = container(dep)["args"]
    assert args[:2] == ["serve", f"{STORE.mount_path}/{name}/checkpoint"] and "--revision" not in args
    assert args[args.index("--backend") + 1] == "pytorch"
    assert dep["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == name
    assert any(v.get("persistentVolumeClaim", {}).get("readOnly") for v in pod(dep)["volumes"])


def render_all(infd: InferenceDeployment, engine: str) -> str:
    build = created_quantization_build(infd)
    name = build.metadata["name"]
    docs: list[dict[str, Any]] = [build.model_dump(mode="json", by_alias=True, exclude_none=True)]
    docs.append(render_build_job(build, STORE))
    if engine == "vllm":
        docs.append(render_vllm_deployment(infd, None, name, STORE))
    else:
        docs.append(render_trtllm_deployment(infd, name, STORE))
    return yaml.dump_all(docs, Dumper=_ReadableDumper, sort_keys=True)


ROWS = [
    ("quantization-8b-h100-fp8-vllm", "vllm", None),
    ("quantization-8b-h100-fp8-trtllm-1.2.1-pytorch", "tensorrt-llm", None),
    ("quantization-8b-h100-fp8-trtllm-1.3.0rc21-pytorch", "tensorrt-llm", PYTORCH_ONLY_IMAGE),
]


@pytest.mark.parametrize(("golden", "engine", "image"), ROWS)
def test_render_matches_golden(golden: str, engine: str, image: str | None) -> None:
    rendered = render_all(calibrated("a", engine, image=image), engine)
    assert rendered == render_all(calibrated("a", engine, image=image), engine)  # byte-identical re-render
    path = GOLDEN_DIR / f"{golden}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}; run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text()


def test_a_quantization_build_applied_by_hand_is_refused_on_a_gpu_too_old_naming_its_fields() -> None:
    data = created_quantization_build(calibrated("a", "vllm")).model_dump(mode="json", by_alias=True)
    data["spec"]["gpuProduct"] = A100
    refused = refusal(EngineBuild.model_validate(data))
    assert refused is not None and refused.startswith("spec.quantization: fp8 needs compute capability 8.9")
    assert f"spec.gpuProduct {A100} is Ampere (8.0)" in refused
    data["spec"]["gpuProduct"] = H100
    assert refusal(EngineBuild.model_validate(data)) is None  # no engine-backend checks for a checkpoint
