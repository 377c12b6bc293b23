"""TensorRT-LLM over nodes (issue 18): the group's MPI launch, the engine build on the same topology, the key,
the switch between one pod and a group, and names that stay short enough for the LWS StatefulSets.

Regenerate the golden file after an intended change with
`UPDATE_GOLDEN=1 pytest tests/unit/render/test_trtllm_multinode.py` and review the diff by hand.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.api.settings import OperatorSettings, StoreSettings
from inference_operator.controller.context import Context
from inference_operator.controller.inference_deployment import desired
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import engine_build_spec
from inference_operator.render.engine_key import engine_cache_key
from inference_operator.render.multinode import GROUP_NAME_MAX_LENGTH, GroupShape, NodeFacts, group_workload_name
from inference_operator.render.trtllm_multinode import LAUNCHER, LOCAL_CHECKPOINT, render_trtllm_leader_worker_set
from tests.support.fake_kube import FakeKube
from tests.support.samples import REPO_ROOT, TEST_NAMESPACE, TEST_UID, cli_render

SAMPLE = REPO_ROOT / "manifests" / "samples" / "multi-node" / "llama-3-1-405b-h100-trtllm.yaml"
GOLDEN = Path(__file__).parents[1] / "golden" / "multi-node" / "llama-3-1-405b-h100-trtllm.yaml"
SHAPE = GroupShape(size=2, gpus_per_pod=8)
H100_NODES = NodeFacts(gpus_per_node=8, nodes=4)
STORE = StoreSettings()
LOG = logging.getLogger("test")


def body(**spec: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    loaded["metadata"] |= {"namespace": TEST_NAMESPACE, "uid": TEST_UID}
    loaded["spec"] = {**loaded["spec"], **spec}
    return loaded


def resource(**spec: Any) -> InferenceDeployment:
    return InferenceDeployment.model_validate(body(**spec))


def containers(lws: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    template = lws["spec"]["leaderWorkerTemplate"]
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    worker = template["workerTemplate"]["spec"]["containers"][0]
    return leader, worker


def test_render_of_the_trtllm_405b_sample_matches_golden() -> None:
    rendered = cli_render("-f", str(SAMPLE))
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    # The build first, vLLM's group serving meanwhile, then TensorRT-LLM's group.
    assert kinds == [
        "PersistentVolumeClaim",
        "EngineBuild",
        "Job",
        "LeaderWorkerSet",
        "LeaderWorkerSet",
        "Service",
        "PodMonitor",
    ]
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(rendered)
    assert rendered == GOLDEN.read_text()


def test_the_leader_runs_mpirun_over_the_group_and_the_workers_an_ssh_server() -> None:
    infd = resource()
    lws = render_trtllm_leader_worker_set(infd, SHAPE, "llama-engine", STORE)
    assert lws["spec"]["startupPolicy"] == "LeaderCreated"  # the leader's mpirun needs the workers up
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    leader, worker = containers(lws)
    script = leader["command"][2]
    assert "-np 16 " in script  # one MPI process per GPU of the world (tensor 8 x pipeline 2)
    assert 'hosts="$LWS_LEADER_ADDRESS:8"' in script and "$base-$i.$domain" in script
    assert f'{LAUNCHER} trtllm-serve "$@"' in script
    assert "-x HF_TOKEN" in script and "-x HF_HOME" in script  # an SSH session starts with no environment
    args = leader["args"]
    assert args[:2] == ["serve", "/engines/llama-engine/engine"]
    assert args[args.index("--tp_size") + 1] == "8" and args[args.index("--pp_size") + 1] == "2"
    assert {"startupProbe", "readinessProbe", "livenessProbe", "ports"} <= leader.keys()
    assert not {"startupProbe", "readinessProbe", "livenessProbe", "ports", "args"} & worker.keys()
    assert "sshd" in worker["command"][2] and "mpirun" not in worker["command"][2]
    for container in (leader, worker):
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
        assert {"name": "mpi-ssh", "mountPath": "/etc/inference-operator/ssh", "readOnly": True} in container[
            "volumeMounts"
        ]


@pytest.mark.parametrize("image", [None, "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc21"], ids=["1.2.x", "1.3.0rc21+"])
def test_the_pytorch_backend_serves_a_checkpoint_every_pod_downloaded_to_the_same_path(image: str | None) -> None:
    trt: dict[str, Any] = {"backend": "pytorch"} | ({"image": image} if image else {})
    infd = resource(engine={"preference": "tensorrt-llm", "tensorrtLLM": trt})
    lws = render_trtllm_leader_worker_set(infd, SHAPE, None, STORE)
    leader, worker = containers(lws)
    assert leader["args"][:2] == ["serve", LOCAL_CHECKPOINT]
    assert "--revision" not in leader["args"]  # a local directory: the recipe's multi-node mode cannot download
    for container in (leader, worker):
        assert "snapshot_download" in container["command"][2] and LOCAL_CHECKPOINT in container["command"][2]


def test_without_the_ssh_secret_tensorrt_llm_never_serves_a_group() -> None:
    spec = body()["spec"]
    infd = resource(multiNode={k: v for k, v in spec["multiNode"].items() if k != "sshSecret"})
    intent = desired.intent_for(infd, OperatorSettings(), nodes=H100_NODES)
    assert intent.blocker == desired.TRTLLM_MULTI_NODE and intent.engine_build is None
    assert desired.serving_kind(intent, Engine.TENSORRT_LLM) == "Deployment"
    assert "spec.multiNode.sshSecret" in desired.TRTLLM_MULTI_NODE


def test_with_it_the_engine_is_built_on_the_serving_topology_in_one_pod() -> None:
    intent = desired.intent_for(resource(), OperatorSettings(), nodes=H100_NODES)
    assert intent.blocker is None and intent.shape == SHAPE
    assert desired.serving_kind(intent, Engine.TENSORRT_LLM) == "LeaderWorkerSet"
    assert intent.engine_build is not None
    spec = intent.engine_build["spec"]
    assert (spec["nodes"], spec["gpusPerNode"], spec["tensor"], spec["pipeline"]) == (2, 8, 8, 2)
    created = {**intent.engine_build, "metadata": {**intent.engine_build["metadata"], "uid": TEST_UID}}
    job = render_build_job(EngineBuild.model_validate(created), STORE)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 8  # one node's GPUs, not 16 no node has
    assert "--workers 8" in container["command"][2]


def test_the_topology_is_in_the_key_and_one_pod_keys_are_unchanged() -> None:
    infd = resource()
    one_pod = engine_build_spec(infd, STORE)
    assert one_pod.nodes is None and "nodes" not in one_pod.to_wire()
    two_nodes = engine_build_spec(infd, STORE, SHAPE)
    four_nodes = engine_build_spec(infd, STORE, GroupShape(size=4, gpus_per_pod=4))
    keys = {engine_cache_key(s) for s in (one_pod, two_nodes, four_nodes)}
    assert len(keys) == 3  # a different topology is a new build
    assert engine_cache_key(one_pod.model_copy(update={"nodes": 1})) == engine_cache_key(one_pod)


def test_long_names_keep_the_statefulsets_revision_labels_within_63_characters() -> None:
    name = "a" * 52  # the longest resource name the API admits
    lws_name = group_workload_name(f"{name}-trtllm")
    assert len(lws_name) <= GROUP_NAME_MAX_LENGTH
    # worker StatefulSet <lws>-<group up to 999>, its pods' controller-revision-hash <StatefulSet>-<10 chars>
    assert len(f"{lws_name}-999-0123456789") <= 63
    assert group_workload_name(f"{name}-vllm") != group_workload_name(f"{name}-trtllm")
    assert group_workload_name("short-vllm") == "short-vllm"
    infd = resource()
    infd = infd.model_copy(update={"metadata": {**infd.metadata, "name": name}})
    lws = render_trtllm_leader_worker_set(infd, SHAPE, "e", STORE)
    assert lws["metadata"]["name"] == lws_name


def fake_with(spec: dict[str, Any]) -> tuple[Context, FakeKube]:
    fake = FakeKube()
    fake.cluster_add_gpu_nodes()
    manifest = body(**spec)
    fake.put(manifest)
    return Context(kube=fake, settings=OperatorSettings()), fake


def test_a_switch_between_one_pod_and_a_group_leaves_no_old_workload() -> None:
    name = body()["metadata"]["name"]
    vllm_group = {"engine": {"preference": "vllm"}, "multiNode": {"gpusPerNode": 8}}
    ctx, fake = fake_with(vllm_group)
    reconcile_inference_deployment(ctx, TEST_NAMESPACE, name, LOG)
    assert fake.get("LeaderWorkerSet", TEST_NAMESPACE, f"{name}-vllm") is not None
    # Down to 8 GPUs: one pod per replica; the group goes.
    edited = fake.body("InferenceDeployment", TEST_NAMESPACE, name)
    fake.put({**edited, "spec": {**edited["spec"], "parallelism": {"tensor": 8, "pipeline": 1}}})
    reconcile_inference_deployment(ctx, TEST_NAMESPACE, name, LOG)
    assert fake.get("Deployment", TEST_NAMESPACE, f"{name}-vllm") is not None
    assert fake.get("LeaderWorkerSet", TEST_NAMESPACE, f"{name}-vllm") is None
    # And back: the Deployment goes.
    edited = fake.body("InferenceDeployment", TEST_NAMESPACE, name)
    fake.put({**edited, "spec": {**edited["spec"], "parallelism": {"tensor": 8, "pipeline": 2}}})
    reconcile_inference_deployment(ctx, TEST_NAMESPACE, name, LOG)
    assert fake.get("LeaderWorkerSet", TEST_NAMESPACE, f"{name}-vllm") is not None
    assert fake.get("Deployment", TEST_NAMESPACE, f"{name}-vllm") is None
