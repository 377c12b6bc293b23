"""The core vLLM path on the real control plane: samples to Ready, rollouts, garbage collection, validation."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.cluster import Cluster, wait_for
from tests.support.operator_process import OperatorProcess
from tests.support.samples import SAMPLES_DIR

VLLM_SAMPLES = ["small-model", "llama-3-1-8b-h100", "llama-3-1-70b-h100-tp8", "cpu-small"]
FAKE_TOKEN = "hf_e2e_fake_token_value_0123456789"


def load(sample: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / f"{sample}.yaml").read_text())
    return body


def create_token_secret(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "secret", "generic", "hf-token", "-n", namespace, f"--from-literal=HF_TOKEN={FAKE_TOKEN}")


def phase_is(cluster: Cluster, name: str, namespace: str, *phases: str) -> dict[str, Any] | None:
    status = cluster.status("infd", name, namespace)
    return status if status.get("phase") in phases else None


def gpu_limit(deployment: dict[str, Any]) -> int:
    limits = deployment["spec"]["template"]["spec"]["containers"][0].get("resources", {}).get("limits", {})
    return int(limits.get("nvidia.com/gpu", 0))


@pytest.mark.parametrize("sample", VLLM_SAMPLES)
def test_sample_becomes_ready_on_the_right_gpus(
    cluster: Cluster, operator: OperatorProcess, namespace: str, sample: str
) -> None:
    body = load(sample)
    name, spec = body["metadata"]["name"], body["spec"]
    create_token_secret(cluster, namespace)
    cluster.apply(body, namespace)

    status = wait_for(f"{sample} Ready", lambda: phase_is(cluster, name, namespace, "Ready"))
    assert status["endpoint"] == f"http://{name}.{namespace}.svc:8000/v1"
    assert status["observedGeneration"] == cluster.get("infd", name, namespace)["metadata"]["generation"]  # type: ignore[index]
    assert status["engine"]["active"] == "vllm"

    deployment = cluster.get("deployment", f"{name}-vllm", namespace)
    assert deployment is not None
    par = spec.get("parallelism", {})
    gpus = spec.get("resources", {}).get("gpusPerReplica", par.get("tensor", 1) * par.get("pipeline", 1))
    assert gpu_limit(deployment) == gpus
    service = cluster.get("service", name, namespace)
    assert service is not None and service["spec"]["selector"]["inference-operator.dev/engine"] == "vllm"

    product = spec.get("resources", {}).get("gpuProduct")
    pods = cluster.items("pods", namespace, f"inference-operator.dev/deployment={name}")
    assert pods, "no serving pods"
    for pod in pods:
        node = cluster.get("node", pod["spec"]["nodeName"], "default")
        assert node is not None
        labels = node["metadata"]["labels"]
        if product:
            assert labels.get("nvidia.com/gpu.product") == product
        if gpus == 0:
            assert "nvidia.com/gpu.product" not in labels


def test_spec_change_rolls_out_and_bumps_observed_generation(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = load("small-model")
    name = body["metadata"]["name"]
    cluster.apply(body, namespace)
    first = wait_for("Ready", lambda: phase_is(cluster, name, namespace, "Ready"))

    body["spec"]["replicas"] = 2
    body["spec"].setdefault("engine", {}).setdefault("vllm", {})["extraArgs"] = ["--max-model-len=4096"]
    cluster.apply(body, namespace)

    def rolled() -> dict[str, Any] | None:
        st = cluster.status("infd", name, namespace)
        ok = st.get("observedGeneration", 0) > first["observedGeneration"] and st.get("readyReplicas") == 2
        return st if ok and st.get("phase") == "Ready" else None

    wait_for("the change rolled out", rolled)
    deployment = cluster.get("deployment", f"{name}-vllm", namespace)
    assert deployment is not None and deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--max-model-len=4096"


def test_deleting_the_resource_garbage_collects_its_children(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = load("small-model")
    name = body["metadata"]["name"]
    cluster.apply(body, namespace)
    wait_for("Ready", lambda: phase_is(cluster, name, namespace, "Ready"))
    cluster.kubectl("delete", "infd", name, "-n", namespace, "--wait=true", "--timeout=60s")

    def gone() -> bool:
        return (
            cluster.get("deployment", f"{name}-vllm", namespace) is None
            and cluster.get("service", name, namespace) is None
        )

    wait_for("children garbage-collected", gone)
    assert cluster.items("pods", namespace, f"inference-operator.dev/deployment={name}") == [] or wait_for(
        "pods gone", lambda: cluster.items("pods", namespace, f"inference-operator.dev/deployment={name}") == []
    )


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"modle": {"name": "x"}}, 'unknown field "spec.modle"'),
        ({"parallelism": {"tensor": 0}}, "spec.parallelism.tensor"),
        ({"engine": {"preference": "sglang"}}, "spec.engine.preference"),
        ({"parallelism": {"tensor": 2}, "resources": {"gpusPerReplica": 3}}, "spec.resources.gpusPerReplica"),
        ({"engine": {"preference": "tensorrt-llm"}, "resources": {"gpuProduct": None}}, "spec.resources.gpuProduct"),
        ({"engine": {"tensorrtLLM": {"maxInputLen": 9000, "maxSeqLen": 8192}}}, "maxInputLen"),
    ],
)
def test_invalid_resource_is_rejected_naming_the_field(
    cluster: Cluster, namespace: str, patch: dict[str, Any], field: str
) -> None:
    body = load("small-model")
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(body["spec"].get(key), dict):
            body["spec"][key] = {k: v for k, v in {**body["spec"][key], **value}.items() if v is not None}
        else:
            body["spec"][key] = value
    proc = cluster.apply(body, namespace, check=False)
    assert proc.returncode != 0
    assert field in proc.stderr, proc.stderr


def test_rejected_edit_leaves_the_deployment_serving(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = load("small-model")
    name = body["metadata"]["name"]
    cluster.apply(body, namespace)
    wait_for("Ready", lambda: phase_is(cluster, name, namespace, "Ready"))
    bad = yaml.safe_load(yaml.safe_dump(body))
    bad["spec"]["parallelism"] = {"tensor": -1}
    assert cluster.apply(bad, namespace, check=False).returncode != 0
    assert phase_is(cluster, name, namespace, "Ready")
    deployment = cluster.get("deployment", f"{name}-vllm", namespace)
    assert deployment is not None and deployment["status"].get("readyReplicas") == 1


def test_too_many_gpus_per_replica_says_why_in_status(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = load("llama-3-1-70b-h100-tp8")
    name = body["metadata"]["name"]
    body["spec"]["parallelism"] = {"tensor": 16}
    body["spec"].pop("resources", None)
    body["spec"]["resources"] = {"gpuProduct": "NVIDIA-H100-80GB-HBM3"}
    # One pod of 16 GPUs; left to Auto the operator would serve it as a group of two 8-GPU nodes (test_multinode).
    body["spec"]["multiNode"] = {"mode": "Never"}
    create_token_secret(cluster, namespace)
    cluster.apply(body, namespace)
    status = wait_for("Pending with the scheduler's reason", lambda: phase_is(cluster, name, namespace, "Pending"))
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in ready["message"]
    pods = cluster.items("pods", namespace, f"inference-operator.dev/deployment={name}")
    assert pods and all(p["status"]["phase"] == "Pending" for p in pods)
