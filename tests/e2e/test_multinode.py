"""Models larger than one node (issue 18): the operator renders a LeaderWorkerSet, the real LeaderWorkerSet
controller (sigs.k8s.io/lws, testbed/lws) runs it with its webhooks, kube-scheduler places the groups on kwok's
8-GPU H100 nodes. Tensor 8 x pipeline 2 = 16 GPUs per replica: a group of 2 pods, one per node.

The test bed has four H100 nodes (testbed/nodes.yaml): room for two groups.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from inference_operator.api.labels import GPU_PRODUCT_LABEL, GPU_RESOURCE
from inference_operator.render.multinode import GROUP_INDEX_LABEL, WORKER_INDEX_LABEL
from tests.support.cluster import Cluster, wait_for
from tests.support.operator_process import OperatorProcess

H100 = "NVIDIA-H100-80GB-HBM3"
H100_NODES = 4
REVISION_LABEL = "leaderworkerset.sigs.k8s.io/template-revision-hash"
PLACEMENT_TIMEOUT = 30  # seconds: the smallest spec.multiNode.placementTimeoutSeconds allowed
DEADLINE = 120.0


def resource(name: str, replicas: int, env: str = "one") -> dict[str, Any]:
    return {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "meta-llama/Llama-3.1-405B-Instruct-FP8"},
            "engine": {"preference": "vllm", "vllm": {"env": [{"name": "ROLL", "value": env}]}},
            "precision": {"quantization": "fp8"},
            "parallelism": {"tensor": 8, "pipeline": 2},
            "resources": {"gpuProduct": H100},  # GPUs per node: read from the nodes' allocatable
            "replicas": replicas,
            "multiNode": {"placementTimeoutSeconds": PLACEMENT_TIMEOUT},
            "monitoring": {"enabled": False},
        },
    }


def gpus(pod: dict[str, Any]) -> int:
    return sum(
        int((c.get("resources") or {}).get("limits", {}).get(GPU_RESOURCE, 0)) for c in pod["spec"]["containers"]
    )


def h100_gpus_in_use(cluster: Cluster) -> int:
    nodes = {n["metadata"]["name"] for n in cluster.items("nodes", "default", f"{GPU_PRODUCT_LABEL}={H100}")}
    every = json.loads(cluster.kubectl("get", "pods", "--all-namespaces", "-o", "json").stdout)["items"]
    pods = [p for p in every if p["spec"].get("nodeName") in nodes]
    return sum(gpus(p) for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


@pytest.fixture
def free_h100s(cluster: Cluster) -> Iterator[None]:
    """Earlier tests' namespaces go without waiting: start once their pods have left the H100 nodes."""
    wait_for("the H100 nodes to be free", lambda: h100_gpus_in_use(cluster) == 0 or None, timeout=300, interval=1)
    yield


def pods_of(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    pods = cluster.items("pods", namespace, f"inference-operator.dev/deployment={name}")
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def placed(cluster: Cluster, namespace: str, name: str, count: int) -> list[dict[str, Any]] | None:
    pods = pods_of(cluster, namespace, name)
    ready = [p for p in pods if p["spec"].get("nodeName") and _ready(p)]
    return pods if len(pods) == count and len(ready) == count else None


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions", []))


def infd_ready(cluster: Cluster, namespace: str, name: str, groups: int) -> dict[str, Any] | None:
    status = cluster.status("inferencedeployment", name, namespace)
    ok = status.get("phase") == "Ready" and (status.get("groups") or {}).get("ready") == groups
    return status if ok and status.get("readyReplicas") == groups else None


def rollout_states(stream: str) -> Iterator[dict[str, list[str]]]:
    """After each event of a pod watch: group index -> the revisions of its placed pods (one entry per pod)."""
    decoder, pos = json.JSONDecoder(), 0
    pods: dict[str, dict[str, Any]] = {}
    while True:
        while pos < len(stream) and stream[pos].isspace():
            pos += 1
        if pos >= len(stream):
            return
        event, pos = decoder.raw_decode(stream, pos)
        obj = event["object"]
        if event["type"] == "DELETED" or obj["metadata"].get("deletionTimestamp"):
            pods.pop(obj["metadata"]["name"], None)
        else:
            pods[obj["metadata"]["name"]] = obj
        yield _group_revisions(pods.values())


def _group_revisions(pods: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Group index -> revisions of its placed pods. A worker older than its group's leader is what is left of
    the group's previous incarnation, waiting for garbage collection (its StatefulSet's owner, the old leader,
    is gone: LWS replaces a group by replacing its leader), and is not counted."""
    placed = [p for p in pods if p["spec"].get("nodeName")]
    leaders = {
        p["metadata"]["labels"][GROUP_INDEX_LABEL]: (
            p["metadata"]["creationTimestamp"],
            p["metadata"]["labels"][REVISION_LABEL],
        )
        for p in placed
        if p["metadata"]["labels"][WORKER_INDEX_LABEL] == "0"
    }
    groups: dict[str, list[str]] = {}
    for pod in placed:
        labels, created = pod["metadata"]["labels"], pod["metadata"]["creationTimestamp"]
        index = labels[GROUP_INDEX_LABEL]
        leader_created, leader_revision = leaders.get(index, (created, labels[REVISION_LABEL]))
        # creationTimestamp has one-second resolution: a worker of another revision made in the same second as
        # its leader was made before it (a new incarnation's workers are made only once its leader exists).
        if (
            labels[WORKER_INDEX_LABEL] != "0"
            and labels[REVISION_LABEL] != leader_revision
            and created <= leader_created
        ):
            continue
        groups.setdefault(index, []).append(labels[REVISION_LABEL])
    return groups


def revision_of_whole_groups(groups: dict[str, list[str]], old: set[str]) -> tuple[str, ...]:
    """ "old" or "new" for each group with both pods placed on one revision, in group order."""
    whole = [set(r) for _, r in sorted(groups.items()) if len(r) == 2 and len(set(r)) == 1]
    return tuple("old" if r <= old else "new" for r in whole)


def delete_and_wait(cluster: Cluster, namespace: str, name: str) -> None:
    cluster.kubectl("delete", "inferencedeployment", name, "-n", namespace, "--wait=false")
    wait_for("the groups' pods to go", lambda: not cluster.items("pods", namespace) or None, timeout=DEADLINE)


def test_replicas_larger_than_a_node_run_as_groups_that_scale_and_roll_whole(
    cluster: Cluster, operator: OperatorProcess, namespace: str, free_h100s: None
) -> None:
    name = "llama-405b"
    cluster.apply(resource(name, replicas=1), namespace)

    pods = wait_for("one group of 2 Ready pods", lambda: placed(cluster, namespace, name, 2), timeout=DEADLINE)
    lws = cluster.get("leaderworkerset", f"{name}-vllm", namespace)
    assert lws is not None and lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    assert cluster.items("deployments", namespace) == []  # a LeaderWorkerSet instead of a Deployment
    assert len({p["spec"]["nodeName"] for p in pods}) == 2, "each pod of a group on its own node"
    assert all(gpus(p) == 8 for p in pods)
    leader = next(p for p in pods if p["metadata"]["labels"][WORKER_INDEX_LABEL] == "0")
    service = cluster.get("service", name, namespace)
    assert service is not None and service["spec"]["selector"][WORKER_INDEX_LABEL] == "0"

    def endpoint_ips() -> set[str] | None:
        slices = cluster.items("endpointslices", namespace, f"kubernetes.io/service-name={name}")
        ips = {a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]}
        return ips or None

    assert wait_for("the Service's endpoints", endpoint_ips, timeout=DEADLINE) == {leader["status"]["podIP"]}
    status = wait_for("status: 1 group Ready", lambda: infd_ready(cluster, namespace, name, 1), timeout=DEADLINE)
    assert status["groups"]["size"] == 2 and status["groups"]["gpusPerPod"] == 8

    # Scaling adds a whole group: two more pods on two more nodes.
    cluster.apply(resource(name, replicas=2), namespace)
    pods = wait_for("two groups of 2 Ready pods", lambda: placed(cluster, namespace, name, 4), timeout=DEADLINE)
    assert len({p["spec"]["nodeName"] for p in pods}) == 4
    assert sorted(p["metadata"]["labels"][GROUP_INDEX_LABEL] for p in pods) == ["0", "0", "1", "1"]
    wait_for("status: 2 groups Ready", lambda: infd_ready(cluster, namespace, name, 2), timeout=DEADLINE)

    # A spec change rolls group by group: never a group of mixed revisions, and a moment when one group runs the
    # new revision while the other still runs the old one, whole (maxUnavailable 1, maxSurge 0). Not asserted:
    # that the old group stays until the new one's workers are Ready; LWS v0.7.0 counts a group ready once its
    # worker pods exist (docs/multi-node.md), so that depends on how fast they become Ready.
    old = {p["metadata"]["labels"][REVISION_LABEL] for p in pods}
    assert len(old) == 1
    # Every pod change, in order (a poll can miss a moment that lasts less than one kubectl call on kwok).
    selector = f"inference-operator.dev/deployment={name}"
    watch_args = ["get", "pods", "-n", namespace, "-l", selector, "--watch", "--output-watch-events", "-o", "json"]
    sink = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - a file, not a pipe: a full pipe would stall the watch
    watch = subprocess.Popen(
        [str(cluster.kubectl_bin), *watch_args],
        stdout=sink,
        text=True,
        env=cluster.env,
    )
    try:
        cluster.apply(resource(name, replicas=2, env="two"), namespace)

        def rolled() -> bool | None:
            current = pods_of(cluster, namespace, name)
            revisions = {p["metadata"]["labels"][REVISION_LABEL] for p in current}
            return (len(current) == 4 and all(_ready(p) for p in current) and revisions.isdisjoint(old)) or None

        wait_for("the rollout to replace both groups", rolled, timeout=DEADLINE)
    finally:
        watch.terminate()
        watch.wait(timeout=30)
        sink.seek(0)
        stream = sink.read()
        sink.close()
    states = list(rollout_states(stream))
    for groups in states:
        for index, revisions in groups.items():
            assert len(set(revisions)) == 1, f"group {index} mixes revisions {revisions}"
    moments = [revision_of_whole_groups(groups, old) for groups in states]
    assert ("old", "new") in moments or ("new", "old") in moments, "one group after the other, never both at once"
    wait_for("status: 2 groups Ready after the rollout", lambda: infd_ready(cluster, namespace, name, 2))
    delete_and_wait(cluster, namespace, name)


def test_a_group_that_cannot_be_placed_whole_is_explained_and_holds_no_gpus(
    cluster: Cluster, operator: OperatorProcess, namespace: str, free_h100s: None
) -> None:
    # One H100 node taken by someone else: three free nodes are room for one group and a half.
    filler = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "someone-else"},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": "kwok-h100-3"},
            "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [
                {
                    "name": "c",
                    "image": "busybox:1.36",
                    "command": ["sleep", "3600"],
                    "resources": {"limits": {GPU_RESOURCE: 8}},
                }
            ],
        },
    }
    cluster.apply(filler, namespace)
    wait_for("the filler pod on its node", lambda: h100_gpus_in_use(cluster) == 8 or None, timeout=DEADLINE)
    name = "llama-405b-tight"
    cluster.apply(resource(name, replicas=2), namespace)

    def waiting() -> dict[str, Any] | None:
        ready = cluster.condition("inferencedeployment", name, namespace, "Ready") or {}
        return (
            ready
            if ready.get("status") == "False" and "Insufficient nvidia.com/gpu" in ready.get("message", "")
            else None
        )

    first = wait_for("the status to say why the second group waits", waiting, timeout=DEADLINE)
    assert first["reason"] in ("Unschedulable", "GroupsHeldBack"), first

    def held_back() -> dict[str, Any] | None:
        status = cluster.status("inferencedeployment", name, namespace)
        ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
        return status if ready.get("reason") == "GroupsHeldBack" else None

    status = wait_for("the half-placed group to be removed", held_back, timeout=PLACEMENT_TIMEOUT + DEADLINE)
    held = status["groups"]["heldBack"]
    assert (held["wanted"], held["replicas"]) == (2, 1)
    message = next(c for c in status["conditions"] if c["type"] == "Ready")["message"]
    assert "spec.multiNode.placementTimeoutSeconds" in message and "Insufficient nvidia.com/gpu" in message
    assert status["phase"] == "Degraded"  # one group serves

    def whole_groups_only() -> bool | None:
        pods = pods_of(cluster, namespace, name)
        bound = [p for p in pods if p["spec"].get("nodeName")]
        return (len(pods) == 2 and len(bound) == 2 and h100_gpus_in_use(cluster) == 8 + 16) or None

    wait_for("only the whole group to hold GPUs", whole_groups_only, timeout=DEADLINE)
    lws = cluster.get("leaderworkerset", f"{name}-vllm", namespace)
    assert lws is not None and lws["spec"]["replicas"] == 1
    cluster.kubectl("delete", "pod", "someone-else", "-n", namespace, "--wait=false")
    delete_and_wait(cluster, namespace, name)
