"""Multi-node serving: when a replica becomes a LeaderWorkerSet group, its shape, its pods and its golden file.

Regenerate the golden file after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/render/test_multinode.py`
and review the diff by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.api.errors import InvalidSpec
from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.inference_deployment import desired
from inference_operator.controller.plan import Mode
from inference_operator.render.multinode import (
    EXCLUSIVE_TOPOLOGY_ANNOTATION,
    WORKER_INDEX_LABEL,
    GroupShape,
    NodeFacts,
    group_shape,
)
from inference_operator.render.service import render_service
from inference_operator.render.vllm import render_vllm_leader_worker_set
from tests.support.samples import REPO_ROOT, TEST_NAMESPACE, TEST_UID, cli_render

GOLDEN = Path(__file__).parents[1] / "golden" / "multi-node" / "llama-3-1-405b-h100.yaml"
SAMPLE = REPO_ROOT / "manifests" / "samples" / "multi-node" / "llama-3-1-405b-h100.yaml"
H100_NODES = NodeFacts(gpus_per_node=8, nodes=4)


def resource(**spec: Any) -> InferenceDeployment:
    body = yaml.safe_load(SAMPLE.read_text())
    body["metadata"] |= {"namespace": TEST_NAMESPACE, "uid": TEST_UID}
    body["spec"] = {**body["spec"], **spec}
    return InferenceDeployment.model_validate(body)


def test_render_of_the_405b_sample_matches_golden() -> None:
    rendered = cli_render("-f", str(SAMPLE))
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    assert kinds == ["LeaderWorkerSet", "Service", "PodMonitor"]
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(rendered)
    assert rendered == GOLDEN.read_text()


def test_a_replica_larger_than_a_node_is_a_group_of_nodes() -> None:
    infd = resource(multiNode={})  # nothing declared: the nodes tell
    assert group_shape(infd, H100_NODES) == GroupShape(size=2, gpus_per_pod=8)
    assert group_shape(infd, NodeFacts(gpus_per_node=16, nodes=1)) is None  # one node holds it
    assert group_shape(infd, None) is None  # nodes unread and nothing declared: one pod, as before
    assert group_shape(resource(multiNode={"mode": "Never"}), H100_NODES) is None
    always = resource(parallelism={"tensor": 4}, multiNode={"mode": "Always", "gpusPerNode": 2})
    assert group_shape(always, None) == GroupShape(size=2, gpus_per_pod=2)


@pytest.mark.parametrize(
    ("spec", "nodes", "field"),
    [
        ({"parallelism": {"tensor": 3, "pipeline": 3}, "multiNode": {"gpusPerNode": 8}}, None, "spec.parallelism"),
        ({"multiNode": {}}, NodeFacts(gpus_per_node=8, nodes=1), "spec.parallelism"),
        (
            {
                "model": {"name": "example/tiny-16-layers", "numLayers": 16},
                "parallelism": {"tensor": 1, "pipeline": 32},
            },
            H100_NODES,
            "spec.parallelism.pipeline",
        ),
        ({"multiNode": {"mode": "Always"}}, None, "spec.multiNode.gpusPerNode"),
    ],
    ids=["uneven-split", "group-larger-than-the-pool", "more-stages-than-layers", "always-without-node-size"],
)
def test_groups_that_cannot_be_served_are_refused_naming_the_field(
    spec: dict[str, Any], nodes: NodeFacts | None, field: str
) -> None:
    with pytest.raises(InvalidSpec) as raised:
        group_shape(resource(**spec), nodes)
    assert str(raised.value).startswith(f"{field}:"), raised.value


def test_the_leader_serves_and_the_workers_join_it() -> None:
    infd = resource(multiNode={"gpusPerNode": 8, "exclusiveTopology": "topology.kubernetes.io/zone"})
    lws = render_vllm_leader_worker_set(infd, GroupShape(size=2, gpus_per_pod=8))
    spec = lws["spec"]
    assert spec["startupPolicy"] == "LeaderCreated"  # the leader is Ready only once its workers joined
    assert spec["leaderWorkerTemplate"]["size"] == 2
    assert spec["rolloutStrategy"]["rollingUpdateConfiguration"] == {"maxUnavailable": 1, "maxSurge": 0}
    assert lws["metadata"]["annotations"] == {EXCLUSIVE_TOPOLOGY_ANNOTATION: "topology.kubernetes.io/zone"}
    leader = spec["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]
    worker = spec["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    assert {"startupProbe", "readinessProbe", "livenessProbe", "ports"} <= leader.keys()
    assert not {"startupProbe", "readinessProbe", "livenessProbe", "ports"} & worker.keys()
    for container in (leader, worker):
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
        args = container["args"]
        assert args[args.index("--nnodes") + 1] == "2"
        assert args[args.index("--master-addr") + 1] == "$(LWS_LEADER_ADDRESS)"
        assert args[args.index("--tensor-parallel-size") + 1] == "8"
        assert args[args.index("--pipeline-parallel-size") + 1] == "2"
    assert leader["args"][leader["args"].index("--node-rank") + 1] == "0"
    assert "--headless" not in leader["args"]
    assert worker["args"][worker["args"].index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"
    assert "--headless" in worker["args"]


def test_the_service_selects_leaders_only() -> None:
    infd = resource()
    assert render_service(infd, Engine.VLLM, leaders_only=True)["spec"]["selector"][WORKER_INDEX_LABEL] == "0"
    assert WORKER_INDEX_LABEL not in render_service(infd, Engine.VLLM)["spec"]["selector"]


def test_a_recreate_rollout_takes_every_group_down_at_once() -> None:
    infd = resource(serving={"rollout": {"strategy": "Recreate"}})
    lws = render_vllm_leader_worker_set(infd, GroupShape(size=2, gpus_per_pod=8))
    assert lws["spec"]["rolloutStrategy"]["rollingUpdateConfiguration"]["maxUnavailable"] == "100%"


def test_tensorrt_llm_across_nodes_falls_back_to_a_vllm_group() -> None:
    infd = resource(engine={"preference": "tensorrt-llm", "fallback": "vllm"})
    intent = desired.intent_for(infd, OperatorSettings(), nodes=H100_NODES)
    assert intent.blocker == desired.TRTLLM_MULTI_NODE
    world = desired.World(deployments=dict.fromkeys(Engine), service=None)
    children = desired.children(intent, world, OperatorSettings())
    assert children.plan.mode is Mode.FALLBACK
    applied = [w.manifest for w in children.deployments if w.manifest is not None]
    assert [m["kind"] for m in applied] == ["LeaderWorkerSet"]
