"""Every consumer of a weight cache entry besides vLLM's one-pod Deployment: the EngineBuild and its Job (created
only once the entry is Complete), TensorRT-LLM's PyTorch backend, LeaderWorkerSet groups of both engines, and the
interim vLLM Deployment while a TensorRT-LLM engine builds."""

from __future__ import annotations

import logging
from typing import Any

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.controller.weight_cache.reconcile import reconcile_weight_cache
from inference_operator.render.build_job import render_build_job
from inference_operator.render.multinode import GroupShape
from inference_operator.render.trtllm import render_trtllm_deployment
from inference_operator.render.trtllm_multinode import render_trtllm_leader_worker_set
from inference_operator.render.vllm import render_vllm_deployment, render_vllm_leader_worker_set
from inference_operator.render.weight_cache import job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")
ENTRY = "wc-0123456789abcdef0123"
READ_ONLY_CLAIM = {"name": "weight-cache", "persistentVolumeClaim": {"claimName": ENTRY, "readOnly": True}}
READ_ONLY_MOUNT = {"name": "weight-cache", "mountPath": "/weights", "readOnly": True}
OFFLINE = {"name": "HF_HUB_OFFLINE", "value": "1"}


def cached(sample: str, **trt: Any) -> dict[str, Any]:
    body = sample_body(sample)
    body["spec"]["model"]["cache"] = {"enabled": True, "size": "2Gi"}
    body["spec"].setdefault("engine", {}).setdefault("tensorrtLLM", {}).update(trt)
    return body


def pod_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def test_the_engine_build_waits_for_the_entry_then_its_job_reads_it_read_only_without_downloading() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=OperatorSettings())
    fake.put(cached("llama-3-1-70b-h100-trtllm"))
    name = fake.list("InferenceDeployment", NS, "")[0]["metadata"]["name"]
    reconcile_inference_deployment(ctx, NS, name, LOG)
    (entry,) = fake.list("WeightCache", NS, "")
    entry_name = entry["metadata"]["name"]
    assert fake.list("EngineBuild", NS, "") == []  # not before the entry is complete
    status = fake.body("InferenceDeployment", NS, name)["status"]
    assert status["build"]["phase"] == "Pending"
    assert f"Waiting for weight cache entry {entry_name}" in status["build"]["message"]
    built = next(c for c in status["conditions"] if c["type"] == "EngineBuilt")
    assert built["reason"] == "WaitingForWeights"
    reconcile_weight_cache(ctx, NS, entry_name, LOG)
    fake.body("Job", NS, job_name(entry_name))["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    reconcile_weight_cache(ctx, NS, entry_name, LOG)
    assert fake.body("WeightCache", NS, entry_name)["status"]["phase"] == "Complete"
    reconcile_inference_deployment(ctx, NS, name, LOG)
    (build,) = fake.list("EngineBuild", NS, "")
    assert build["spec"]["weightCache"] == entry_name
    # The interim vLLM Deployment serving while the engine builds reads the entry too (desired.py passes it).
    (interim,) = [d for d in fake.list("Deployment", NS, "") if d["metadata"]["name"].endswith("-vllm")]
    interim_container = pod_of(interim)["containers"][0]
    assert interim_container["args"][0] == "/weights/model" and OFFLINE in interim_container["env"]
    build["metadata"]["uid"] = "uid-build"
    job = render_build_job(EngineBuild.model_validate(build))
    pod = pod_of(job)
    container = pod["containers"][0]
    assert {"name": "weight-cache", "persistentVolumeClaim": {"claimName": entry_name, "readOnly": True}} in pod[
        "volumes"
    ]
    assert READ_ONLY_MOUNT in container["volumeMounts"]
    script = container["command"][2]
    assert "hf download" not in script and "huggingface-cli" not in script
    assert "--model_dir /weights/model" in script
    assert "/scratch/hf" not in script


def test_an_engine_build_without_the_cache_still_downloads() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=OperatorSettings())
    body = sample_body("llama-3-1-70b-h100-trtllm")
    fake.put(body)
    reconcile_inference_deployment(ctx, NS, body["metadata"]["name"], LOG)
    (build,) = fake.list("EngineBuild", NS, "")
    assert "weightCache" not in build["spec"]
    build["metadata"]["uid"] = "uid-build"
    pod = pod_of(render_build_job(EngineBuild.model_validate(build)))
    assert "hf download" in pod["containers"][0]["command"][2]
    assert all(v["name"] != "weight-cache" for v in pod["volumes"])


def test_the_pytorch_backend_serves_from_the_entry_offline() -> None:
    infd = InferenceDeployment.model_validate(cached("llama-3-1-70b-h100-trtllm", backend="pytorch"))
    deployment = render_trtllm_deployment(infd, None, OperatorSettings().store, None, ENTRY)
    pod = pod_of(deployment)
    container = pod["containers"][0]
    assert READ_ONLY_CLAIM in pod["volumes"] and READ_ONLY_MOUNT in container["volumeMounts"]
    assert "/weights/model" in container["args"]
    assert "--revision" not in container["args"]
    assert OFFLINE in container["env"]


def test_vllm_groups_mount_the_entry_on_every_leader_and_worker() -> None:
    infd = InferenceDeployment.model_validate(cached("multi-node/llama-3-1-405b-h100"))
    lws = render_vllm_leader_worker_set(infd, GroupShape(size=2, gpus_per_pod=8), None, ENTRY)
    template = lws["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        pod = template[role]["spec"]
        container = pod["containers"][0]
        assert READ_ONLY_CLAIM in pod["volumes"] and READ_ONLY_MOUNT in container["volumeMounts"], role
        assert container["args"][0] == "/weights/model", role
        assert OFFLINE in container["env"], role


def test_trtllm_groups_on_the_pytorch_backend_mount_the_entry_and_download_nothing() -> None:
    body = cached("multi-node/llama-3-1-405b-h100-trtllm", backend="pytorch")
    infd = InferenceDeployment.model_validate(body)
    lws = render_trtllm_leader_worker_set(
        infd, GroupShape(size=2, gpus_per_pod=8), None, OperatorSettings().store, None, ENTRY
    )
    template = lws["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        pod = template[role]["spec"]
        container = pod["containers"][0]
        assert READ_ONLY_CLAIM in pod["volumes"] and READ_ONLY_MOUNT in container["volumeMounts"], role
        assert "snapshot_download" not in container["command"][2], role
    assert "/weights/model" in template["leaderTemplate"]["spec"]["containers"][0]["args"]
    uncached = render_trtllm_leader_worker_set(infd, GroupShape(size=2, gpus_per_pod=8), None, OperatorSettings().store)
    assert (
        "snapshot_download"
        in uncached["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["command"][2]
    )


def test_the_interim_vllm_deployment_while_an_engine_builds_serves_from_the_entry() -> None:
    infd = InferenceDeployment.model_validate(cached("llama-3-1-70b-h100-trtllm"))
    deployment = render_vllm_deployment(infd, None, None, None, True, ENTRY)
    pod = pod_of(deployment)
    container = pod["containers"][0]
    assert READ_ONLY_CLAIM in pod["volumes"] and READ_ONLY_MOUNT in container["volumeMounts"]
    assert container["args"][0] == "/weights/model" and OFFLINE in container["env"]
