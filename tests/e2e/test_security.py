"""Security on the real control plane: Pod Security `restricted` admits every engine pod, and a Hugging Face
token never leaves its Secret (not in status, Events, rendered children or the operator's log).

See docs/security.md; tests/unit/render/test_security.py checks the same properties on every rendered sample.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.cluster import Cluster, wait_for
from tests.support.operator_process import OperatorProcess

H100 = "NVIDIA-H100-80GB-HBM3"
TOKEN_KEY = "HF_TOKEN"


def resource(name: str, engine: str, credentials: str | None = None) -> dict[str, Any]:
    model: dict[str, Any] = {"name": "meta-llama/Llama-3.1-8B-Instruct", "architecture": "LlamaForCausalLM"}
    if credentials:
        model["credentials"] = {"name": credentials, "key": TOKEN_KEY}
    return {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": name},
        "spec": {"model": model, "engine": {"preference": engine}, "resources": {"gpuProduct": H100}},
    }


def serving(cluster: Cluster, name: str, namespace: str, engine: str) -> bool:
    status = cluster.status("infd", name, namespace)
    return status.get("phase") == "Ready" and (status.get("engine") or {}).get("active") == engine


def restrict(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )


def refusals(cluster: Cluster, namespace: str) -> list[str]:
    """Events of pods refused at creation (a ReplicaSet's or Job's FailedCreate, Pod Security's words)."""
    return [
        f"{e['involvedObject']['kind']}/{e['involvedObject']['name']}: {e.get('message', '')}"
        for e in cluster.items("events", namespace)
        if e.get("reason") == "FailedCreate" or "PodSecurity" in e.get("message", "")
    ]


def test_restricted_namespace_admits_the_engine_pods(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    """vLLM serving pods, the TensorRT-LLM build Job's pod and the TensorRT-LLM serving pods."""
    restrict(cluster, namespace)
    cluster.apply(resource("on-vllm", "vllm"), namespace)
    cluster.apply(resource("on-trt", "tensorrt-llm"), namespace)
    wait_for("vLLM serving", lambda: serving(cluster, "on-vllm", namespace, "vllm"), timeout=90)
    wait_for("TensorRT-LLM serving", lambda: serving(cluster, "on-trt", namespace, "tensorrt-llm"), timeout=120)

    pods = cluster.items("pods", namespace)
    kinds = {p["metadata"].get("labels", {}).get("app.kubernetes.io/component") for p in pods}
    engines = {p["metadata"].get("labels", {}).get("inference-operator.dev/engine") for p in pods}
    assert kinds >= {"serving"} and engines >= {"vllm", "tensorrt-llm"}, (kinds, engines)
    jobs = cluster.items("jobs", namespace)
    assert jobs and all(j["status"].get("succeeded") == 1 for j in jobs), "the build pod was not admitted"
    assert refusals(cluster, namespace) == []


def test_hf_token_stays_in_its_secret(cluster: Cluster, operator: OperatorProcess, namespace: str) -> None:
    token = f"hf_e2e_secret_{uuid.uuid4().hex}"
    cluster.kubectl("create", "secret", "generic", "hf-token", "-n", namespace, f"--from-literal={TOKEN_KEY}={token}")
    log_start = len(operator.log())
    cluster.apply(resource("gated", "tensorrt-llm", credentials="hf-token"), namespace)
    cluster.apply(resource("gated-vllm", "vllm", credentials="hf-token"), namespace)
    wait_for("TensorRT-LLM serving", lambda: serving(cluster, "gated", namespace, "tensorrt-llm"), timeout=120)
    wait_for("vLLM serving", lambda: serving(cluster, "gated-vllm", namespace, "vllm"), timeout=90)

    workloads = cluster.items("deployments", namespace) + cluster.items("jobs", namespace)
    assert {w["kind"] for w in workloads} == {"Deployment", "Job"}
    for workload in workloads:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            tokens = [e for e in container.get("env", []) if e["name"] == TOKEN_KEY]
            assert tokens == [
                {"name": TOKEN_KEY, "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": TOKEN_KEY}}}
            ]
    places = {
        "InferenceDeployments": cluster.items("infd", namespace),
        "EngineBuilds": cluster.items("enginebuilds", namespace),
        "Events": cluster.items("events", namespace),
        "Deployments and Jobs": workloads,
        "Services": cluster.items("services", namespace),
    }
    for place, objects in places.items():
        assert objects or place == "Services", f"no {place} to look at"
        assert token not in json.dumps(objects), f"the token is in the {place}"
    assert token not in operator.log()[log_start:], "the token is in the operator's log"


def test_a_literal_token_is_refused(cluster: Cluster, namespace: str) -> None:
    body = resource("literal", "vllm")
    body["spec"]["engine"]["vllm"] = {"env": [{"name": TOKEN_KEY, "value": "hf_literal_token"}]}
    refused = cluster.apply(body, namespace, check=False)
    assert refused.returncode != 0
    assert "spec.engine.vllm.env" in refused.stderr and "must come from a Secret" in refused.stderr
