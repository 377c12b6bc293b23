"""Render of the vLLM path: golden YAML per sample, plus the properties the issue asks for by name.

After an intended change, regenerate the golden files with
`UPDATE_GOLDEN=1 pytest tests/unit/render/test_render_vllm.py` and review the diff by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from inference_operator.api.images import VLLM_CPU_IMAGE, VLLM_IMAGE
from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.api.labels import GPU_PRODUCT_LABEL, GPU_RESOURCE
from inference_operator.api.validation import format_validation_error
from inference_operator.render.service import render_service
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.samples import load_sample, sample_body, sample_names

GOLDEN_DIR = Path(__file__).parents[1] / "golden"
SAMPLES = sample_names()


def render_yaml(infd: InferenceDeployment) -> str:
    return yaml.safe_dump_all([render_vllm_deployment(infd), render_service(infd, Engine.VLLM)], sort_keys=True)


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def with_spec(name: str, **spec: Any) -> InferenceDeployment:
    """A sample with top-level spec fields replaced."""
    body = sample_body(name)
    body["spec"] = {**body["spec"], **spec}
    return InferenceDeployment.model_validate(body)


def test_every_expected_sample_exists() -> None:
    assert {"small-model", "llama-3-1-8b-h100", "llama-3-1-70b-h100-tp8", "cpu-small"} <= set(SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_render_matches_golden(name: str) -> None:
    rendered = render_yaml(load_sample(name))
    golden = GOLDEN_DIR / f"{name}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(rendered)
    assert golden.exists(), f"no golden file for {name}; run with UPDATE_GOLDEN=1 and review it"
    assert rendered == golden.read_text()


@pytest.mark.parametrize("name", SAMPLES)
def test_render_is_deterministic_and_alias_free(name: str) -> None:
    first, second = render_yaml(load_sample(name)), render_yaml(load_sample(name))
    assert first == second
    # A shared object in the rendered dict would come out as a YAML anchor (&id001) and alias.
    assert "&id" not in first


def test_70b_sample_asks_for_eight_h100s() -> None:
    deployment = render_vllm_deployment(load_sample("llama-3-1-70b-h100-tp8"))
    pod = deployment["spec"]["template"]["spec"]
    engine = container(deployment)
    assert engine["resources"]["limits"][GPU_RESOURCE] == 8
    assert pod["nodeSelector"][GPU_PRODUCT_LABEL] == "NVIDIA-H100-80GB-HBM3"
    assert {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert engine["startupProbe"]["httpGet"]["path"] == "/health"
    assert engine["args"][engine["args"].index("--tensor-parallel-size") + 1] == "8"
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_startup_probe_allows_thirty_minutes_by_default() -> None:
    startup = container(render_vllm_deployment(load_sample("small-model")))["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30 * 60


def test_probe_override_changes_only_the_given_fields() -> None:
    infd = with_spec("small-model", serving={"probes": {"startup": {"failureThreshold": 360}}})
    deployment = render_vllm_deployment(infd)
    startup = container(deployment)["startupProbe"]
    assert startup["failureThreshold"] == 360
    assert startup["periodSeconds"] == 10
    # The rollout deadline follows the longer startup allowance.
    assert deployment["spec"]["progressDeadlineSeconds"] > 360 * 10


def test_liveness_grace_period_is_the_probes_own_and_readiness_refuses_one() -> None:
    # A hung engine ignores SIGTERM: the probe-level grace period lets a liveness restart skip the pod's 120 s.
    probes = {"liveness": {"periodSeconds": 2, "terminationGracePeriodSeconds": 5}}
    deployment = render_vllm_deployment(with_spec("small-model", serving={"probes": probes}))
    engine = container(deployment)
    assert engine["livenessProbe"]["terminationGracePeriodSeconds"] == 5
    assert "terminationGracePeriodSeconds" not in engine["startupProbe"]
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    body = sample_body("small-model")
    body["spec"]["serving"] = {"probes": {"readiness": {"terminationGracePeriodSeconds": 5}}}
    with pytest.raises(pydantic.ValidationError) as err:
        InferenceDeployment.model_validate(body)
    message = format_validation_error(err.value)
    assert message == "spec.serving.probes.readiness.terminationGracePeriodSeconds: unknown field", message


def test_cpu_sample_uses_cpu_image_and_no_gpu() -> None:
    deployment = render_vllm_deployment(load_sample("cpu-small"))
    pod = deployment["spec"]["template"]["spec"]
    engine = container(deployment)
    assert engine["image"] == VLLM_CPU_IMAGE
    assert GPU_RESOURCE not in engine["resources"].get("limits", {})
    assert engine["resources"]["requests"] == engine["resources"]["limits"]
    assert "tolerations" not in pod
    assert "nodeSelector" not in pod


def test_cpu_mode_keeps_a_user_image() -> None:
    body = sample_body("cpu-small")
    body["spec"]["engine"]["vllm"]["image"] = "registry.example/vllm-cpu:custom"
    engine = container(render_vllm_deployment(InferenceDeployment.model_validate(body)))
    assert engine["image"] == "registry.example/vllm-cpu:custom"


def test_gpu_sample_uses_pinned_gpu_image() -> None:
    assert container(render_vllm_deployment(load_sample("small-model")))["image"] == VLLM_IMAGE


def test_extra_args_come_last() -> None:
    infd = load_sample("cpu-small")
    extra = list(infd.spec.engine.vllm.extra_args)
    assert extra, "cpu-small is expected to carry extra args"
    args = container(render_vllm_deployment(infd))["args"]
    assert args[-len(extra) :] == extra
    assert args[0] == infd.spec.model.name


def test_hf_token_comes_from_the_secret_only() -> None:
    infd = load_sample("llama-3-1-8b-h100")
    env = container(render_vllm_deployment(infd))["env"]
    token = [e for e in env if e["name"] == "HF_TOKEN"]
    secret_ref = {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN"}}
    assert token == [{"name": "HF_TOKEN", "valueFrom": secret_ref}]
    assert "value" not in token[0]


def test_no_token_env_without_credentials() -> None:
    env = container(render_vllm_deployment(load_sample("small-model")))["env"]
    assert all(e["name"] != "HF_TOKEN" for e in env)


def test_user_env_overrides_operator_env_without_duplicates() -> None:
    body = sample_body("small-model")
    body["spec"]["engine"]["vllm"] = {"env": [{"name": "HF_HOME", "value": "/elsewhere"}]}
    env = container(render_vllm_deployment(InferenceDeployment.model_validate(body)))["env"]
    names = [e["name"] for e in env]
    assert len(names) == len(set(names))
    assert {"name": "HF_HOME", "value": "/elsewhere"} in env


@pytest.mark.parametrize(
    ("quantization", "expected"),
    [("none", None), ("fp8", "fp8"), ("int4-awq", "awq_marlin"), ("int4-gptq", "gptq_marlin")],
)
def test_quantization_flag(quantization: str, expected: str | None) -> None:
    infd = with_spec("small-model", precision={"quantization": quantization})
    args = container(render_vllm_deployment(infd))["args"]
    if expected is None:
        assert "--quantization" not in args
    else:
        assert args[args.index("--quantization") + 1] == expected


def test_rolling_update_parameters_pass_through() -> None:
    infd = with_spec("small-model", serving={"rollout": {"maxSurge": 0, "maxUnavailable": 1}})
    strategy = render_vllm_deployment(infd)["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def test_user_placement_is_merged_with_gpu_placement() -> None:
    infd = with_spec(
        "small-model",
        resources={
            "gpuProduct": "NVIDIA-A100-SXM4-80GB",
            "nodeSelector": {"pool": "llm"},
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"},
            ],
        },
    )
    pod = render_vllm_deployment(infd)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {GPU_PRODUCT_LABEL: "NVIDIA-A100-SXM4-80GB", "pool": "llm"}
    assert [t["key"] for t in pod["tolerations"]] == [GPU_RESOURCE, "dedicated"]


def test_shm_is_a_sized_memory_volume() -> None:
    deployment = render_vllm_deployment(load_sample("llama-3-1-70b-h100-tp8"))
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(deployment)["volumeMounts"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Gi"}


def test_selector_is_a_subset_of_pod_labels() -> None:
    deployment = render_vllm_deployment(load_sample("small-model"))
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_service_targets_the_named_port_of_the_active_engine() -> None:
    infd = load_sample("small-model")
    service = render_service(infd, Engine.VLLM)
    assert service["metadata"]["name"] == infd.metadata["name"]
    expected_port = {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    assert service["spec"]["ports"] == [expected_port]
    ports = container(render_vllm_deployment(infd))["ports"]
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in ports
    assert service["spec"]["selector"] == render_vllm_deployment(infd)["spec"]["selector"]["matchLabels"]
    assert render_service(infd, Engine.TENSORRT_LLM)["spec"]["selector"]["inference-operator.dev/engine"] == (
        "tensorrt-llm"
    )


def env_value(env: list[dict[str, Any]], name: str) -> str | None:
    values = [e.get("value") for e in env if e["name"] == name]
    assert len(values) <= 1, f"{name} twice in {env}"
    return values[0] if values else None


@pytest.mark.parametrize("name", sample_names())
def test_engine_user_has_a_name_getpass_can_return(name: str) -> None:
    """Engine pods run as uid 1000, which the images' /etc/passwd lacks; getpass.getuser() then needs LOGNAME or
    USER, or it raises (issue 13). The agent's real-process nodes reproduce that passwd (tests/e2e)."""
    env = container(render_vllm_deployment(load_sample(name)))["env"]
    assert env_value(env, "USER") and env_value(env, "LOGNAME")


def test_hub_endpoint_setting_reaches_the_pod_and_the_resource_env_wins() -> None:
    infd = load_sample("small-model")
    assert env_value(container(render_vllm_deployment(infd))["env"], "HF_ENDPOINT") is None
    env = container(render_vllm_deployment(infd, "http://hub.internal:8090"))["env"]
    assert env_value(env, "HF_ENDPOINT") == "http://hub.internal:8090"
    body = sample_body("small-model")
    body["spec"]["engine"]["vllm"] = {"env": [{"name": "HF_ENDPOINT", "value": "http://team-hub"}]}
    own = InferenceDeployment.model_validate(body)
    assert env_value(container(render_vllm_deployment(own, "http://hub.internal:8090"))["env"], "HF_ENDPOINT") == (
        "http://team-hub"
    )


@pytest.mark.parametrize("name", SAMPLES)
def test_a_stopping_pod_leaves_the_endpoints_before_vllm_stops_and_drains_its_requests(name: str) -> None:
    """vLLM aborts every in-flight request on SIGTERM unless --shutdown-timeout is set (v0.32.0), and proxies
    route to a deleted pod until they see it leave the EndpointSlice: hold SIGTERM back, then drain, all within
    the grace period."""
    deployment = render_vllm_deployment(load_sample(name))
    c = container(deployment)
    hook = c["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[0] == "sleep" and int(hook[1]) >= 5
    args = c["args"]
    drain = int(args[args.index("--shutdown-timeout") + 1])
    assert drain > 0  # 0 is vLLM's "abort"
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert int(hook[1]) + drain < grace


def test_the_user_may_set_the_shutdown_timeout() -> None:
    body = sample_body("cpu-small")
    body["spec"]["engine"] = {"vllm": {"extraArgs": ["--shutdown-timeout", "5"]}}
    args = container(render_vllm_deployment(InferenceDeployment.model_validate(body)))["args"]
    assert args[-2:] == ["--shutdown-timeout", "5"]  # after the operator's: argparse keeps the last
