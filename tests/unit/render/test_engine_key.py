"""The engine cache key and the EngineBuild a resource needs (render/engine_key.py, render/engine_build.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest

from inference_operator.api.engine_build import EngineBuild, EngineBuildSpec
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.labels import LABEL_BUILD, LABEL_DEPLOYMENT
from inference_operator.api.settings import StoreSettings
from inference_operator.render.engine_build import (
    EngineKeyError,
    build_deadline_seconds,
    engine_build_spec,
    parameters_billions,
    render_engine_build,
)
from inference_operator.render.engine_key import KEY_FIELDS, build_job_name, engine_build_name, engine_cache_key
from tests.support.samples import REPO_ROOT, sample_body

SAMPLE = "llama-3-1-70b-h100-trtllm"
STORE = StoreSettings()
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# Every field set explicitly, so the expected key below depends on nothing but the hash recipe.
FIXED_SPEC: dict[str, Any] = {
    "model": "meta-llama/Llama-3.1-70B-Instruct",
    "revision": "main",
    "dtype": "bfloat16",
    "quantization": "fp8",
    "tensor": 8,
    "pipeline": 1,
    "maxBatchSize": 64,
    "maxInputLen": 4096,
    "maxSeqLen": 8192,
    "profile": "default",
    "image": "nvcr.io/nvidia/tensorrt-llm/release:1.2.1",
    "gpuProduct": "NVIDIA-H100-80GB-HBM3",
    "architecture": "LlamaForCausalLM",
    "extraBuildArgs": [],
    "credentials": {"name": "hf-token", "key": "HF_TOKEN"},
    "deadlineSeconds": 10800,
    "backoffLimit": 2,
    "storeClaim": "inference-engine-store",
}
# Recorded once; a change means every engine in every cluster gets rebuilt, so it must be deliberate
# (bump build_recipe.RECIPE_VERSION when the engine's bytes change, and update this value).
FIXED_KEY = "57d3c940fdad"

# A different value for each engine-relevant field (wire names).
KEY_CHANGES: dict[str, Any] = {
    "model": "meta-llama/Llama-3.3-70B-Instruct",
    "revision": "0123456789abcdef0123456789abcdef01234567",
    "dtype": "float16",
    "quantization": "int4-awq",
    "tensor": 4,
    "pipeline": 2,
    "max_batch_size": 128,
    "max_input_len": 2048,
    "max_seq_len": 16384,
    "profile": "aggressive",
    "image": "nvcr.io/nvidia/tensorrt-llm/release:1.3.0",
    "gpu_product": "NVIDIA-H200",
    "extra_build_args": ["--max_num_tokens", "16384"],
}
# Fields that change how a build runs, not what it produces.
NON_KEY_CHANGES: dict[str, Any] = {
    "credentials": {"name": "other-token", "key": "token"},
    "weight_cache": "wc-0123456789abcdef0123",
    "deadline_seconds": 99999,
    "backoff_limit": 7,
    "store_claim": "another-store",
    "architecture": "MistralForCausalLM",
    "cpu": "64",
    "memory": "1Ti",
    "scratch_size": "2Ti",
}


def fixed_spec(**changes: Any) -> EngineBuildSpec:
    return EngineBuildSpec.model_validate({**FIXED_SPEC, **changes})


def infd_with(mutate: Any = None) -> InferenceDeployment:
    body = sample_body(SAMPLE)
    if mutate is not None:
        mutate(body["spec"])
    return InferenceDeployment.model_validate(body)


def key_of(infd: InferenceDeployment) -> str:
    return engine_cache_key(engine_build_spec(infd, STORE))


def test_key_is_the_recorded_value() -> None:
    assert engine_cache_key(fixed_spec()) == FIXED_KEY


def test_key_is_stable_across_processes() -> None:
    # A fresh interpreter with another hash seed: nothing in the key may depend on set or dict order.
    code = (
        "from tests.unit.render.test_engine_key import fixed_spec\n"
        "from inference_operator.render.engine_key import engine_cache_key\n"
        "print(engine_cache_key(fixed_spec()))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == FIXED_KEY


def test_key_ignores_field_order() -> None:
    reversed_spec = EngineBuildSpec.model_validate(dict(reversed(list(FIXED_SPEC.items()))))
    assert engine_cache_key(reversed_spec) == FIXED_KEY
    body = sample_body(SAMPLE)
    body["spec"] = dict(reversed(list(body["spec"].items())))
    assert key_of(InferenceDeployment.model_validate(body)) == key_of(infd_with())


def test_key_covers_exactly_the_engine_relevant_fields() -> None:
    assert set(KEY_CHANGES) == set(KEY_FIELDS)
    assert not set(NON_KEY_CHANGES) & set(KEY_FIELDS)
    # kind and calibration are the quantization key's (test_quantization_key.py): an engine's key never had them.
    # nodes and gpus_per_node are keyed as the topology, above one node only (test_trtllm_multinode.py).
    keyed_elsewhere = {"kind", "calibration", "nodes", "gpus_per_node"}
    assert set(KEY_FIELDS) | set(NON_KEY_CHANGES) | keyed_elsewhere == set(EngineBuildSpec.model_fields)


@pytest.mark.parametrize("field", sorted(KEY_CHANGES))
def test_key_changes_with_each_engine_relevant_field(field: str) -> None:
    changed = EngineBuildSpec.model_validate(fixed_spec().model_dump() | {field: KEY_CHANGES[field]})
    assert engine_cache_key(changed) != FIXED_KEY


@pytest.mark.parametrize("field", sorted(NON_KEY_CHANGES))
def test_key_ignores_how_a_build_runs(field: str) -> None:
    changed = EngineBuildSpec.model_validate(fixed_spec().model_dump() | {field: NON_KEY_CHANGES[field]})
    assert engine_cache_key(changed) == FIXED_KEY


def test_quantization_change_makes_a_new_key() -> None:
    def awq(spec: dict[str, Any]) -> None:
        spec["precision"]["quantization"] = "int4-awq"

    assert key_of(infd_with(awq)) != key_of(infd_with())


def _replicas(spec: dict[str, Any]) -> None:
    spec["replicas"] = 3


def _env(spec: dict[str, Any]) -> None:
    spec["engine"]["tensorrtLLM"]["env"] = [{"name": "NCCL_DEBUG", "value": "INFO"}]


def _probes(spec: dict[str, Any]) -> None:
    spec["serving"] = {"probes": {"startup": {"failureThreshold": 600}}}


def _credentials(spec: dict[str, Any]) -> None:
    spec["model"]["credentials"] = {"name": "another-secret", "key": "token"}


def _deadline(spec: dict[str, Any]) -> None:
    spec["engine"]["tensorrtLLM"]["buildDeadlineSeconds"] = 86400
    spec["engine"]["tensorrtLLM"]["buildBackoffLimit"] = 0


def _serving(spec: dict[str, Any]) -> None:
    spec["engine"]["tensorrtLLM"]["extraArgs"] = ["--log_level", "debug"]
    spec["engine"]["fallback"] = "none"
    spec["model"]["servedModelName"] = "renamed"
    spec["monitoring"] = {"enabled": False}
    spec["resources"]["shmSize"] = "32Gi"


@pytest.mark.parametrize("mutate", [_replicas, _env, _probes, _credentials, _deadline, _serving])
def test_other_changes_never_rebuild(mutate: Any) -> None:
    assert key_of(infd_with(mutate)) == key_of(infd_with())


def test_build_name_is_readable_and_carries_the_key() -> None:
    spec = engine_build_spec(infd_with(), STORE)
    name = engine_build_name(spec)
    assert name == f"llama-3-1-70b-instruct-{engine_cache_key(spec)}"
    assert build_job_name(name) == f"{name}-build"


def test_names_stay_valid_labels_for_a_very_long_model_name() -> None:
    long_name = "some-org/" + "Very.Long_Model-Name-" * 11 + "70B"
    spec = fixed_spec(model=long_name)
    name = engine_build_name(spec)
    assert len(name) <= 63 and DNS_1123_LABEL.match(name)
    assert len(build_job_name(name)) <= 63 and DNS_1123_LABEL.match(build_job_name(name))
    assert name.endswith(engine_cache_key(spec))
    assert name.startswith("very-long-model-name-")


def test_build_name_of_a_name_without_letters_or_digits_is_still_valid() -> None:
    name = engine_build_name(fixed_spec(model="org/_"))
    assert name == f"engine-{engine_cache_key(fixed_spec(model='org/_'))}"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("meta-llama/Llama-3.1-70B-Instruct", 70),
        ("meta-llama/Llama-3.1-8B-Instruct", 8),
        ("Qwen/Qwen2.5-0.5B-Instruct", 0.5),
        ("Qwen/Qwen2.5-1.5B", 1.5),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", 56),
        ("meta-llama/Llama-3.1-405B-Instruct", 405),
        ("openai-community/gpt2", None),
    ],
)
def test_parameters_from_the_model_name(model: str, expected: float | None) -> None:
    def rename(spec: dict[str, Any]) -> None:
        spec["model"]["name"] = model

    assert parameters_billions(infd_with(rename)) == expected


def test_declared_parameters_win_over_the_name() -> None:
    def declare(spec: dict[str, Any]) -> None:
        spec["model"]["parametersBillions"] = 12.5

    assert parameters_billions(infd_with(declare)) == 12.5


@pytest.mark.parametrize(
    ("billions", "seconds"),
    [
        (0.5, 3600),  # 10 min x 3 = 30 min: the one-hour floor applies
        (8, 3600),
        (13, 3600),
        (70, 3 * 60 * 60),  # article: 30-60 min for 70B on H100
        (180, 3 * 120 * 60),
        (405, int(3 * 120 * 405 / 200 * 60)),
        (5000, 172800),  # capped at the API's maximum
    ],
)
def test_build_deadline_is_three_times_the_compile_time(billions: float, seconds: int) -> None:
    def declare(spec: dict[str, Any]) -> None:
        spec["model"]["parametersBillions"] = billions

    assert build_deadline_seconds(infd_with(declare)) == seconds


def test_build_deadline_of_an_unknown_size_assumes_70b_class() -> None:
    def rename(spec: dict[str, Any]) -> None:
        spec["model"]["name"] = "acme/house-model"

    assert build_deadline_seconds(infd_with(rename)) == 3 * 60 * 60


def test_build_deadline_override_wins() -> None:
    def override(spec: dict[str, Any]) -> None:
        spec["engine"]["tensorrtLLM"]["buildDeadlineSeconds"] = 900

    assert build_deadline_seconds(infd_with(override)) == 900
    assert engine_build_spec(infd_with(override), STORE).deadline_seconds == 900


def test_gpu_product_is_required() -> None:
    def no_product(spec: dict[str, Any]) -> None:
        spec["engine"]["preference"] = "auto"  # the CRD's CEL rule only forbids it for tensorrt-llm
        del spec["resources"]["gpuProduct"]

    with pytest.raises(EngineKeyError) as info:
        engine_build_spec(infd_with(no_product), STORE)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "spec.resources.gpuProduct" in message and "\n" not in message


def test_engine_build_object_has_no_owner_and_no_deployment_label() -> None:
    obj = render_engine_build(infd_with(), STORE)
    assert obj["apiVersion"] == "inference-operator.dev/v1alpha1"
    assert obj["kind"] == "EngineBuild"
    meta = obj["metadata"]
    assert "ownerReferences" not in meta
    assert meta["namespace"] == "default"
    assert meta["labels"][LABEL_BUILD] == meta["name"]
    assert LABEL_DEPLOYMENT not in meta["labels"]
    assert all(len(v) <= 63 for v in meta["labels"].values())
    build = EngineBuild.model_validate(obj)
    assert build.spec.store_claim == STORE.claim_name
    assert build.spec.deadline_seconds == 3 * 60 * 60
    assert engine_build_name(build.spec) == meta["name"]


def test_two_resources_with_the_same_engine_settings_share_one_build() -> None:
    first = infd_with()
    body = sample_body(SAMPLE)
    body["metadata"]["name"] = "another-team-llama"
    body["spec"]["replicas"] = 4
    second = InferenceDeployment.model_validate(body)
    assert (
        render_engine_build(first, STORE)["metadata"]["name"] == render_engine_build(second, STORE)["metadata"]["name"]
    )
