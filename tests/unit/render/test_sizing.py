"""Default requests and sizes of engine pods and build Jobs (docs/resources.md), and the spec's overrides."""

from __future__ import annotations

from typing import Any

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.render.build_job import render_build_job
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.samples import sample_body
from tests.support.trtllm_fixtures import created_build, infd_with


def deployment(sample: str, **resources: Any) -> dict[str, Any]:
    body = sample_body(sample)
    body["spec"].setdefault("resources", {}).update(resources)
    return render_vllm_deployment(InferenceDeployment.model_validate(body))


def container_resources(obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]["resources"]
    return result


def volume(obj: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in obj["spec"]["template"]["spec"]["volumes"] if v["name"] == name)


def test_a_70b_model_on_8_gpus_requests_its_weights_shm_and_runtime() -> None:
    # 70e9 x 2 bytes = 130.4 GiB, + 16Gi shm + 4Gi x 10 processes = 186.4 -> 187Gi; cache 1.25 x W + 4Gi.
    obj = deployment("llama-3-1-70b-h100-tp8")
    assert container_resources(obj)["requests"] == {"cpu": "10", "memory": "187Gi", "ephemeral-storage": "169Gi"}
    assert "memory" not in container_resources(obj)["limits"] and "cpu" not in container_resources(obj)["limits"]
    assert volume(obj, "model-cache")["emptyDir"] == {"sizeLimit": "167Gi"}


def test_fp8_halves_the_weights_term() -> None:
    fp8 = sample_body("llama-3-1-70b-h100-tp8")
    fp8["spec"]["precision"] = {"dtype": "bfloat16", "quantization": "fp8"}
    obj = render_vllm_deployment(InferenceDeployment.model_validate(fp8))
    assert container_resources(obj)["requests"]["memory"] == "122Gi"  # 65.2 + 16 + 40


def test_the_spec_overrides_each_figure_alone() -> None:
    obj = deployment("llama-3-1-70b-h100-tp8", memory="300Gi", modelCacheSize="500Gi")
    resources = container_resources(obj)
    assert resources["requests"] == {"cpu": "10", "memory": "300Gi", "ephemeral-storage": "502Gi"}
    assert resources["limits"]["memory"] == "300Gi" and "cpu" not in resources["limits"]
    assert volume(obj, "model-cache")["emptyDir"] == {"sizeLimit": "500Gi"}


def test_the_build_scratch_size_is_overridable_and_reaches_the_job() -> None:
    job = render_build_job(created_build(infd_with(buildScratchSize="1Ti")))
    assert volume(job, "scratch")["emptyDir"] == {"sizeLimit": "1Ti"}
    assert container_resources(job)["requests"]["ephemeral-storage"] == "1026Gi"
