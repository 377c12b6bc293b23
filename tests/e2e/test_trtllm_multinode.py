"""TensorRT-LLM larger than one node (issue 18) on the real control plane and the real LeaderWorkerSet controller:
tensor 8 x pipeline 2 on kwok's 8-GPU H100 nodes builds on the serving topology (one Job pod of 8 GPUs, the
topology in the key), then serves as one LeaderWorkerSet of groups of 2, the Service selecting the leader. The
engine build and trtllm-serve are the test bed's stand-ins (kwok pods: nothing runs mpirun or sshd here), so this
shows the operator's objects and their order, not that the MPI launch works. Plus the switch between one pod
and a group, under the longest resource name the API admits.
"""

from __future__ import annotations

from typing import Any

import pytest

from inference_operator.api.labels import LABEL_BUILD, LABEL_ENGINE
from inference_operator.render.multinode import WORKER_INDEX_LABEL, group_workload_name
from tests.e2e.test_multinode import (
    H100,
    free_h100s,  # noqa: F401 - a fixture
    gpus,
    pods_of,
)
from tests.support.cluster import Cluster, wait_for
from tests.support.operator_process import OperatorProcess

DEADLINE = 240.0
TRT, VLLM = "tensorrt-llm", "vllm"


def trt_resource(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "meta-llama/Llama-3.1-405B-Instruct", "architecture": "LlamaForCausalLM"},
            # Scratch for the download and the converted checkpoint: 405B's default (2268Gi) is more than a kwok
            # node's ephemeral storage.
            "engine": {
                "preference": TRT,
                "fallback": VLLM,
                "tensorrtLLM": {"backend": "engine", "buildScratchSize": "200Gi"},
            },
            "precision": {"dtype": "bfloat16", "quantization": "fp8"},
            "parallelism": {"tensor": 8, "pipeline": 2},
            "resources": {"gpuProduct": H100},  # GPUs per node: from the nodes' allocatable
            "multiNode": {"sshSecret": "mpi-ssh"},
            "monitoring": {"enabled": False},
        },
    }


def engine_pods(cluster: Cluster, namespace: str, name: str, engine: str) -> list[dict[str, Any]]:
    return [p for p in pods_of(cluster, namespace, name) if p["metadata"]["labels"].get(LABEL_ENGINE) == engine]


def ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return bool(pod["spec"].get("nodeName")) and any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.mark.usefixtures("free_h100s")
def test_tensorrt_llm_8x2_builds_on_the_serving_topology_then_serves_one_group_of_2(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    name = "trt-405b"
    # The SSH keys mpirun would use (placeholders: the stand-in pods run no sshd).
    cluster.kubectl(
        "create", "secret", "generic", "mpi-ssh", "-n", namespace,
        "--from-literal=ssh-privatekey=placeholder", "--from-literal=authorized_keys=placeholder",
    )  # fmt: skip
    cluster.apply(trt_resource(name), namespace)

    def routed_to_trt() -> dict[str, Any] | None:
        status = cluster.status("inferencedeployment", name, namespace)
        groups = status.get("groups") or {}
        ok = (status.get("engine") or {}).get("active") == TRT and status.get("phase") == "Ready"
        return status if ok and groups.get("ready") == 1 else None

    status = wait_for("TensorRT-LLM serving one Ready group", routed_to_trt, timeout=DEADLINE)
    assert status["groups"]["size"] == 2 and status["groups"]["gpusPerPod"] == 8

    build = assert_built_on_the_serving_topology(cluster, namespace, status)

    # Serving: one LeaderWorkerSet of groups of 2, each pod on a node of its own, the leader behind the Service.
    lws = cluster.get("leaderworkerset", f"{name}-trtllm", namespace)
    assert lws is not None and lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    assert lws["spec"]["startupPolicy"] == "LeaderCreated"
    assert lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["metadata"]["labels"][LABEL_BUILD] == spec_name(build)

    def group_ready() -> list[dict[str, Any]] | None:
        pods = engine_pods(cluster, namespace, name, TRT)
        return pods if len(pods) == 2 and all(map(ready, pods)) else None

    pods = wait_for("the group's 2 pods Ready", group_ready, timeout=DEADLINE)
    assert len({p["spec"]["nodeName"] for p in pods}) == 2 and all(gpus(p) == 8 for p in pods)
    leader = next(p for p in pods if p["metadata"]["labels"][WORKER_INDEX_LABEL] == "0")
    assert "mpirun" in leader["spec"]["containers"][0]["command"][2]
    service = cluster.get("service", name, namespace)
    assert service is not None
    assert service["spec"]["selector"][WORKER_INDEX_LABEL] == "0" and service["spec"]["selector"][LABEL_ENGINE] == TRT

    def endpoint_ips() -> set[str] | None:
        slices = cluster.items("endpointslices", namespace, f"kubernetes.io/service-name={name}")
        ips = {a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]}
        return ips if ips == {leader["status"]["podIP"]} else None

    wait_for("the Service's endpoint: the leader alone", endpoint_ips, timeout=DEADLINE)
    # vLLM's interim group is gone after the cut-over.
    wait_for("vLLM's group to go", lambda: cluster.get("leaderworkerset", f"{name}-vllm", namespace) is None or None)
    wait_for("vLLM's pods to go", lambda: not engine_pods(cluster, namespace, name, VLLM) or None, timeout=DEADLINE)


def spec_name(build: dict[str, Any]) -> str:
    return str(build["metadata"]["name"])


def assert_built_on_the_serving_topology(cluster: Cluster, namespace: str, status: dict[str, Any]) -> dict[str, Any]:
    """One EngineBuild keyed with the topology, one Job pod on one node's 8 GPUs; returns the EngineBuild."""
    (build,) = cluster.items("enginebuilds", namespace)
    spec = build["spec"]
    assert (spec["tensor"], spec["pipeline"], spec["nodes"], spec["gpusPerNode"]) == (8, 2, 2, 8)
    assert status["build"]["key"] == build["metadata"]["name"] and status["build"]["phase"] == "Succeeded"
    (job,) = cluster.items("jobs", namespace, LABEL_BUILD)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == 8
    assert "--workers 8" in container["command"][2]
    return dict(build)


def vllm_resource(name: str, pipeline: int) -> dict[str, Any]:
    return {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "meta-llama/Llama-3.1-405B-Instruct-FP8"},
            "engine": {"preference": VLLM},
            "precision": {"quantization": "fp8"},
            "parallelism": {"tensor": 8, "pipeline": pipeline},
            "resources": {"gpuProduct": H100},
            "monitoring": {"enabled": False},
        },
    }


@pytest.mark.usefixtures("free_h100s")
def test_a_switch_between_a_group_and_one_pod_leaves_nothing_behind_under_a_52_character_name(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    name = "switch-" + "x" * 45  # 52 characters: the longest name the API admits
    assert len(name) == 52
    lws_name = group_workload_name(f"{name}-vllm")
    assert lws_name != f"{name}-vllm"  # cut: its StatefulSets' revision labels would pass 63 characters
    cluster.apply(vllm_resource(name, pipeline=2), namespace)

    def group_ready() -> list[dict[str, Any]] | None:
        pods = engine_pods(cluster, namespace, name, VLLM)
        return pods if len(pods) == 2 and all(map(ready, pods)) else None

    wait_for("one group of 2 Ready pods (the LWS controller made its StatefulSets)", group_ready, timeout=DEADLINE)
    assert cluster.get("leaderworkerset", lws_name, namespace) is not None
    assert cluster.items("deployments", namespace) == []

    # Down to one node's GPUs: one pod per replica. The group goes; nothing of it is left.
    cluster.apply(vllm_resource(name, pipeline=1), namespace)

    def one_pod() -> list[dict[str, Any]] | None:
        pods = engine_pods(cluster, namespace, name, VLLM)
        gone = cluster.get("leaderworkerset", lws_name, namespace) is None
        return (
            pods
            if gone and len(pods) == 1 and ready(pods[0]) and WORKER_INDEX_LABEL not in pods[0]["metadata"]["labels"]
            else None
        )

    wait_for("one Ready pod of a Deployment and no LeaderWorkerSet", one_pod, timeout=DEADLINE)
    assert [d["metadata"]["name"] for d in cluster.items("deployments", namespace)] == [f"{name}-vllm"]
    assert cluster.items("statefulsets", namespace) == []
    service = cluster.get("service", name, namespace)
    assert service is not None and WORKER_INDEX_LABEL not in service["spec"]["selector"]

    # And back to a group: the Deployment goes.
    cluster.apply(vllm_resource(name, pipeline=2), namespace)

    def group_again() -> list[dict[str, Any]] | None:
        pods = group_ready()
        return pods if pods and not cluster.items("deployments", namespace) else None

    wait_for("one group again and no Deployment", group_again, timeout=DEADLINE)
    service = cluster.get("service", name, namespace)
    assert service is not None and service["spec"]["selector"][WORKER_INDEX_LABEL] == "0"
