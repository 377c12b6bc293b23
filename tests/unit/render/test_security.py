"""Every workload the operator renders meets Pod Security `restricted`, and the Hugging Face token stays a reference.

For every sample: its vLLM Deployment, a TensorRT-LLM Deployment and the build Job of its engine (GPU samples),
whatever engine the sample itself selects. The e2e side (test_security.py under tests/e2e) proves the API
server's Pod Security admission agrees.
"""

from __future__ import annotations

from typing import Any

import pytest

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.inference_deployment.lifecycle import converged_objects as render_all
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import render_engine_build
from inference_operator.render.trtllm import render_trtllm_deployment
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.samples import load_sample, sample_body, sample_names

SETTINGS = OperatorSettings()
# Pod Security Standards, restricted profile: the only volume types it admits.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def credentialed(name: str) -> InferenceDeployment:
    """The sample with an HF token reference, so the token's rendering is checked for every sample."""
    body = sample_body(name)
    body["spec"]["model"] = {**body["spec"]["model"], "credentials": {"name": "hf-token", "key": "HF_TOKEN"}}
    return InferenceDeployment.model_validate(body)


def workloads(name: str) -> list[dict[str, Any]]:
    infd = credentialed(name)
    found = [obj for obj in render_all(infd, SETTINGS) if obj["kind"] in ("Deployment", "Job")]
    found.append(render_vllm_deployment(infd))
    if infd.spec.resources.gpu_product and infd.spec.gpus_per_replica > 0:
        build = render_engine_build(infd, SETTINGS.store)
        engine_build = EngineBuild.model_validate({**build, "metadata": {**build["metadata"], "uid": "u"}})
        found.append(render_build_job(engine_build, SETTINGS.store))
        found.append(render_trtllm_deployment(infd, build["metadata"]["name"], SETTINGS.store))
    return list({f"{obj['kind']}/{obj['metadata']['name']}": obj for obj in found}.values())


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for sample in sample_names():
        for obj in workloads(sample):
            out.append((sample, f"{obj['kind']}/{obj['metadata']['name']}", obj))
    return out


CASES = cases()
IDS = [f"{sample}:{what}" for sample, what, _ in CASES]


def test_every_sample_yields_each_kind_of_workload() -> None:
    names = {what.split("/")[1] for _, what, _ in CASES}
    assert any(n.endswith("-vllm") for n in names)
    assert any(n.endswith("-trtllm") for n in names)
    assert any(n.endswith("-build") for n in names)
    assert {sample for sample, _, _ in CASES} == set(sample_names())


@pytest.mark.parametrize(("sample", "what", "obj"), CASES, ids=IDS)
def test_pod_meets_restricted(sample: str, what: str, obj: dict[str, Any]) -> None:
    pod = obj["spec"]["template"]["spec"]
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security.get("runAsUser", 1) != 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
        assert not pod.get(key), key
    assert pod.get("automountServiceAccountToken") is False
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        assert kinds <= RESTRICTED_VOLUMES, volume
    for container in pod["containers"] + pod.get("initContainers", []):
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx.get("runAsNonRoot", True) is True
        assert ctx.get("runAsUser", 1) != 0
        assert not ctx.get("privileged")
        assert ctx.get("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}
        assert all("hostPort" not in port for port in container.get("ports", []))


@pytest.mark.parametrize(("sample", "what", "obj"), CASES, ids=IDS)
def test_token_only_by_secret_reference(sample: str, what: str, obj: dict[str, Any]) -> None:
    for container in obj["spec"]["template"]["spec"]["containers"]:
        tokens = [e for e in container.get("env", []) if e["name"] == "HF_TOKEN"]
        assert tokens == [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN"}}}]


@pytest.mark.parametrize(("sample", "what", "obj"), CASES, ids=IDS)
def test_caches_point_at_writable_volumes(sample: str, what: str, obj: dict[str, Any]) -> None:
    """The images' HOME is root's; running as uid 1000 works because HOME and HF_HOME move to mounted volumes."""
    pod = obj["spec"]["template"]["spec"]
    for container in pod["containers"]:
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        for variable in ("HOME", "HF_HOME"):
            assert any(env[variable].startswith(mount) for mount in mounts), (variable, env[variable], mounts)


def test_samples_load() -> None:
    for sample in sample_names():
        assert load_sample(sample).metadata["name"]
