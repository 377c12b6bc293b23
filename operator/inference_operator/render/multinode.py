"""Multi-node serving: a LeaderWorkerSet of groups when one replica needs more GPUs than one node has. Pure.

The LeaderWorkerSet API is sigs.k8s.io/lws v0.7.0 (leaderworkerset.x-k8s.io/v1,
api/leaderworkerset/v1/leaderworkerset_types.go). One group is one replica: a leader pod (node rank 0, the
OpenAI API, the probes) and size-1 worker pods, each holding one node's GPUs. The LWS controller creates the
leader StatefulSet and, with `startupPolicy: LeaderCreated`, each group's workers right after its leader, and
injects LWS_LEADER_ADDRESS and LWS_WORKER_INDEX into every pod (its pod webhook). Its rolling update replaces
whole groups, leader and workers together, `maxUnavailable` groups at a time, so a group never mixes revisions.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass
from typing import Any

from ..advisor.architectures import layers_from_name
from ..api.errors import InvalidSpec
from ..api.inference_deployment import InferenceDeployment, MultiNodeMode, RolloutStrategy
from .common import object_meta

LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
LWS_KIND = "LeaderWorkerSet"
# Labels and annotations of the LWS API (leaderworkerset_types.go, v0.7.0).
WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"  # 0 on the leader
GROUP_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/group-index"
EXCLUSIVE_TOPOLOGY_ANNOTATION = "leaderworkerset.sigs.k8s.io/exclusive-topology"

# vLLM v0.32.0's multiprocessing multi-node launch (vllm/engine/arg_utils.py, vllm/config/parallel.py,
# vllm/entrypoints/cli/serve.py run_headless): every node runs `vllm serve` with the same parallel sizes and
# --nnodes, its own --node-rank and the rank-0 node's --master-addr/--master-port (torch.distributed's rendezvous);
# ranks above 0 run --headless (workers only, no API server). world size (tensor x pipeline) must be a multiple
# of --nnodes. The mp backend needs no Ray cluster inside the group.
GROUP_NAME_MAX_LENGTH = 48  # group_workload_name
# LeaderCreated, not LeaderReady: the leader answers /health only once every rank has joined its rendezvous.
# Seen with vLLM CPU 0.32.0 here: `--pipeline-parallel-size 2 --nnodes 2 --node-rank 0` alone stayed in
# torch.distributed's init ("world_size=2 rank=0 ... backend=gloo") with its API port closed for 140 s, so
# workers created only once the leader is Ready would never be created.
MASTER_PORT = 29501  # vLLM's default master_port (config/parallel.py)


@dataclass(frozen=True)
class NodeFacts:
    """The nodes of the resource's GPU product as observed: their largest nvidia.com/gpu allocatable and count."""

    gpus_per_node: int | None
    nodes: int


@dataclass(frozen=True)
class GroupShape:
    """One replica's group: `size` pods of `gpus_per_pod` GPUs each, one per node."""

    size: int
    gpus_per_pod: int


def _gpus_per_node(infd: InferenceDeployment, nodes: NodeFacts | None) -> int | None:
    declared = infd.spec.multi_node.gpus_per_node
    if declared is not None:
        return declared
    return nodes.gpus_per_node if nodes is not None else None


def check_pipeline(infd: InferenceDeployment) -> None:
    """A pipeline stage holds at least one layer: refuse pipeline sizes above the model's layer count."""
    spec = infd.spec
    layers = spec.model.num_layers or layers_from_name(spec.model.name)
    if layers is not None and spec.parallelism.pipeline > layers:
        raise InvalidSpec(
            f"spec.parallelism.pipeline: {spec.parallelism.pipeline} pipeline stages cannot split the "
            f"{layers} layers of {spec.model.name} (at most {layers})"
        )


def group_shape(infd: InferenceDeployment, nodes: NodeFacts | None) -> GroupShape | None:
    """The group of one replica, or None for one pod per replica (a Deployment). InvalidSpec names the field
    when the spec cannot be split over nodes of this size."""
    spec = infd.spec
    check_pipeline(infd)
    gpus, mode = spec.gpus_per_replica, spec.multi_node.mode
    if mode is MultiNodeMode.NEVER or gpus == 0:
        return None
    per_node = _gpus_per_node(infd, nodes)
    if per_node is None:
        if mode is MultiNodeMode.ALWAYS:
            raise InvalidSpec(
                "spec.multiNode.gpusPerNode: needed with mode Always when no node of spec.resources.gpuProduct "
                "can be read"
            )
        return None
    if mode is MultiNodeMode.AUTO and gpus <= per_node:
        return None
    size = math.ceil(gpus / per_node)
    if gpus % size or (gpus // size) > per_node:
        raise InvalidSpec(
            f"spec.parallelism: tensor x pipeline = {gpus} GPUs cannot be split evenly over nodes of {per_node} "
            f"GPUs (spec.multiNode.gpusPerNode); choose sizes whose product is a multiple of the group's node count"
        )
    if nodes is not None and spec.multi_node.gpus_per_node is None and 0 < nodes.nodes < size:
        raise InvalidSpec(
            f"spec.parallelism: one replica needs {size} nodes of {per_node} {spec.resources.gpu_product} GPUs, "
            f"the cluster has {nodes.nodes} such node{'' if nodes.nodes == 1 else 's'}"
        )
    return GroupShape(size=size, gpus_per_pod=gpus // size)


def one_pod_of(infd: InferenceDeployment, shape: GroupShape) -> InferenceDeployment:
    """The resource as one pod of its group sees it: the pod's GPUs (requests, CPU and memory defaults); the
    parallel sizes stay the whole group's."""
    resources = infd.spec.resources.model_copy(update={"gpus_per_replica": shape.gpus_per_pod})
    return infd.model_copy(update={"spec": infd.spec.model_copy(update={"resources": resources})})


def vllm_group_args(shape: GroupShape, leader: bool) -> list[str]:
    """The arguments that make `vllm serve` one node of a group (before the user's extra arguments)."""
    args = [
        "--distributed-executor-backend",
        "mp",
        "--nnodes",
        str(shape.size),
        "--node-rank",
        "0" if leader else "$(LWS_WORKER_INDEX)",
        "--master-addr",
        "$(LWS_LEADER_ADDRESS)",
        "--master-port",
        str(MASTER_PORT),
    ]
    return args if leader else [*args, "--headless"]


def _rollout(infd: InferenceDeployment) -> dict[str, Any]:
    """Group by group: one group down at a time and no surge group (GPUs for a whole extra group are rare).
    Recreate takes every group down at once. The user's maxSurge/maxUnavailable count groups."""
    rollout = infd.spec.serving.rollout
    unavailable: int | str = "100%" if rollout.strategy is RolloutStrategy.RECREATE else 1
    if rollout.strategy is RolloutStrategy.ROLLING_UPDATE and rollout.max_unavailable is not None:
        unavailable = rollout.max_unavailable
    surge: int | str = rollout.max_surge if rollout.max_surge is not None else 0
    config = {"maxUnavailable": unavailable, "maxSurge": surge}
    return {"type": "RollingUpdate", "rollingUpdateConfiguration": config}


def _worker_template(
    leader: dict[str, Any], worker_args: list[str], worker_command: list[str] | None = None
) -> dict[str, Any]:
    """The leader's pod template without the API: headless workers serve no HTTP, so no port and no probes
    (a worker is Ready once it runs; the group is Ready when its leader passes its probes)."""
    worker = copy.deepcopy(leader)
    container = worker["spec"]["containers"][0]
    container["args"] = worker_args
    if worker_command is not None:  # a launch of its own, with no arguments beyond its command
        container["command"] = worker_command
        if not worker_args:
            container.pop("args")
    for key in ("ports", "startupProbe", "readinessProbe", "livenessProbe"):
        container.pop(key, None)
    worker["metadata"].pop("annotations", None)  # no scrape annotations: a headless worker has no /metrics
    return worker


def group_workload_name(name: str) -> str:
    """The LeaderWorkerSet's name: its serving name when short enough, else cut and suffixed with a hash of the
    whole. LWS v0.7.0 names the leader StatefulSet after it and each group's worker StatefulSet
    `<name>-<group index>`; a StatefulSet's pods carry controller-revision-hash `<StatefulSet>-<hash of up to
    10 characters>`, a label value of at most 63 characters (kubernetes#64023), so a StatefulSet name has at most
    52, and with a group index of up to 3 digits (spec.replicas <= 1000) the LeaderWorkerSet's at most 48."""
    if len(name) <= GROUP_NAME_MAX_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: GROUP_NAME_MAX_LENGTH - len(digest) - 1].rstrip('-')}-{digest}"


def render_leader_worker_set(
    infd: InferenceDeployment,
    deployment: dict[str, Any],
    shape: GroupShape,
    worker_args: list[str],
    worker_command: list[str] | None = None,
    startup_policy: str = "LeaderCreated",
) -> dict[str, Any]:
    """The LeaderWorkerSet around the pod template of the Deployment one group's leader would be (rendered for
    one pod's GPUs with the leader's arguments); `worker_args` (and `worker_command`) are the other ranks'."""
    leader = copy.deepcopy(deployment["spec"]["template"])
    name = group_workload_name(deployment["metadata"]["name"])
    meta = object_meta(infd, name, dict(deployment["metadata"]["labels"]))
    topology = infd.spec.multi_node.exclusive_topology
    if topology:
        meta["annotations"] = {EXCLUSIVE_TOPOLOGY_ANNOTATION: topology}
    return {
        "apiVersion": LWS_API_VERSION,
        "kind": LWS_KIND,
        "metadata": meta,
        "spec": {
            "replicas": infd.spec.desired_replicas,
            "startupPolicy": startup_policy,
            "rolloutStrategy": _rollout(infd),
            "leaderWorkerTemplate": {
                "size": shape.size,
                # A pod that fails takes its group down and up again: a rank cannot rejoin a running group.
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": leader,
                "workerTemplate": _worker_template(leader, worker_args, worker_command),
            },
        },
    }
