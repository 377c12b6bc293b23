"""EngineBuilds a platform team applies itself (issue 21), on the in-memory client: the store is ensured, the
status follows the build's pod (Pending with the scheduler's reason, Building only while the container runs),
a spec the operator cannot build is refused with the field named, and a resource that arrives after the build
serves TensorRT-LLM at once."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from inference_operator.api.errors import InvalidSpec
from inference_operator.api.labels import COMPONENT_BUILD, GPU_PRODUCT_LABEL, LABEL_BUILD, LABEL_COMPONENT
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.engine_build.reconcile import reconcile_engine_build
from inference_operator.controller.facts import build_pod_facts
from inference_operator.controller.inference_deployment.lifecycle import engine_build_for
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.render.engine_key import build_job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import load_sample, sample_body

LOG = logging.getLogger("test")
SAMPLE = "llama-3-1-70b-h100-trtllm"
BUSY = (
    "0/7 nodes are available: 3 node(s) didn't match Pod's node affinity/selector, 4 Insufficient nvidia.com/gpu. "
    "preemption: 0/7 nodes are available: 3 Preemption is not helpful for scheduling, 4 No preemption victims."
)
NO_PRODUCT = (
    "0/9 nodes are available: 2 node(s) had untolerated taint {testbed.inference-operator.dev/real-processes: }, "
    "7 node(s) didn't match Pod's node affinity/selector. preemption: 0/9 nodes are available: 9 Preemption is "
    "not helpful for scheduling."
)


def user_build(**spec: Any) -> tuple[Context, FakeKube, str]:
    """The EngineBuild `render --engine-builds` prints for the sample, created by a person (no resource)."""
    fake = FakeKube()
    fake.cluster_add_gpu_nodes()
    settings = OperatorSettings()
    build = engine_build_for(load_sample(SAMPLE), settings)
    assert build is not None
    build["spec"].update(spec)
    stored = fake.put(build)
    return Context(kube=fake, settings=settings), fake, str(stored["metadata"]["name"])


def run(ctx: Context, name: str) -> str | None:
    return reconcile_engine_build(ctx, NS, name, LOG)


def status(fake: FakeKube, name: str) -> dict[str, Any]:
    result: dict[str, Any] = fake.body("EngineBuild", NS, name)["status"]
    return result


def succeeded(fake: FakeKube, name: str) -> dict[str, Any]:
    return next(c for c in status(fake, name)["conditions"] if c["type"] == "Succeeded")


def put_pod(fake: FakeKube, build: str, pod_status: dict[str, Any], node: str | None = None) -> None:
    """The build Job's pod, as the Job controller, the scheduler and the kubelet leave it."""
    spec: dict[str, Any] = {"containers": [{"name": "build"}]}
    if node:
        spec["nodeName"] = node
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{build_job_name(build)}-x7k2p",
                "namespace": NS,
                "labels": {LABEL_COMPONENT: COMPONENT_BUILD, LABEL_BUILD: build},
                "creationTimestamp": "2026-01-01T00:00:00Z",
            },
            "spec": spec,
            "status": pod_status,
        }
    )
    job = fake.body("Job", NS, build_job_name(build))
    job["status"] = {"active": 1, "startTime": "2026-01-01T00:00:00Z"}


def unschedulable(message: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}],
    }


RUNNING = {
    "phase": "Running",
    "startTime": "2026-01-01T00:02:00Z",
    "containerStatuses": [{"name": "build", "state": {"running": {"startedAt": "2026-01-01T00:03:00Z"}}}],
}


def test_the_store_claim_is_created_before_the_job_and_owned_by_nothing() -> None:
    ctx, fake, name = user_build()
    assert run(ctx, name) == "Pending"
    creates = [(kind, obj) for verb, kind, obj in fake.writes if verb == "create"]
    assert creates == [("PersistentVolumeClaim", "inference-engine-store"), ("Job", build_job_name(name))]
    claim = fake.body("PersistentVolumeClaim", NS, "inference-engine-store")
    assert "ownerReferences" not in claim["metadata"]
    job = fake.body("Job", NS, build_job_name(name))
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "engine-store", "persistentVolumeClaim": {"claimName": "inference-engine-store"}} in volumes


def test_the_claim_the_build_names_is_the_one_ensured_and_an_existing_one_is_left_alone() -> None:
    ctx, fake, name = user_build(storeClaim="team-engines")
    fake.put(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "team-engines", "namespace": NS}}
    )
    before = copy.deepcopy(fake.body("PersistentVolumeClaim", NS, "team-engines"))
    run(ctx, name)
    assert fake.body("PersistentVolumeClaim", NS, "team-engines") == before
    assert ("PersistentVolumeClaim", NS, "inference-engine-store") not in fake.objects


def test_a_pod_the_scheduler_cannot_place_is_pending_with_its_reason_never_compiling() -> None:
    ctx, fake, name = user_build()
    run(ctx, name)
    put_pod(fake, name, unschedulable(BUSY))
    assert run(ctx, name) == "Pending"
    message = status(fake, name)["message"]
    assert "cannot be scheduled: 0/7 nodes are available" in message and "Insufficient nvidia.com/gpu" in message
    assert "compiling" not in message
    assert succeeded(fake, name)["reason"] == "Unschedulable" and succeeded(fake, name)["status"] == "Unknown"
    assert "buildingSince" not in status(fake, name)
    assert [r for _, r, _ in fake.events] == ["BuildPending"]


def test_a_gpu_product_whose_nodes_the_build_may_not_use_is_named_as_the_field() -> None:
    """The nodes exist (no up-front refusal) but are tainted or cordoned: the scheduler says so on the pod."""
    ctx, fake, name = user_build()
    run(ctx, name)
    put_pod(fake, name, unschedulable(NO_PRODUCT))
    assert run(ctx, name) == "Pending"
    assert succeeded(fake, name)["reason"] == "NoNodeWithGPUProduct"
    message = status(fake, name)["message"]
    assert (
        message.startswith("spec.gpuProduct: no schedulable node has this GPU product") and GPU_PRODUCT_LABEL in message
    )
    assert "didn't match Pod's node affinity/selector" in message


def test_a_placed_pod_pulling_its_image_is_starting_not_building() -> None:
    ctx, fake, name = user_build()
    run(ctx, name)
    waiting = {"waiting": {"reason": "ErrImagePull", "message": "unauthorized"}}
    put_pod(fake, name, {"phase": "Pending", "containerStatuses": [{"name": "build", "state": waiting}]}, "gpu-0")
    assert run(ctx, name) == "Pending"
    assert succeeded(fake, name)["reason"] == "Starting"
    assert "on node gpu-0 (ErrImagePull: unauthorized)" in status(fake, name)["message"]


def test_building_while_the_container_runs_with_elapsed_against_expected_then_succeeded() -> None:
    ctx, fake, name = user_build()
    run(ctx, name)
    put_pod(fake, name, RUNNING, "gpu-0")
    assert run(ctx, name) == "Building"
    st = status(fake, name)
    assert st["buildingSince"] == "2026-01-01T00:03:00Z"
    assert st["expectedDuration"] == "1h"  # 70B: the 3 h deadline is three times the article's 60 minutes
    assert "compiling on node gpu-0 since 2026-01-01T00:03:00Z" in st["message"] and "about 1h" in st["message"]
    assert run(ctx, name) == "Building"
    assert len([w for w in fake.writes if w[0] == "patch"]) == 2, "an unchanged build wrote its status again"
    fake.cluster_finish_job(NS, build_job_name(name), succeeded=True)
    assert run(ctx, name) == "Succeeded"
    st = status(fake, name)
    assert "buildingSince" not in st and st["durationSeconds"] == 600  # the BUILDING column goes blank
    assert [r for _, r, _ in fake.events] == ["BuildPending", "BuildBuilding", "BuildSucceeded"]


def test_a_failed_attempt_is_pending_while_the_job_retries() -> None:
    ctx, fake, name = user_build()
    run(ctx, name)
    put_pod(fake, name, {"phase": "Failed"}, "gpu-0")
    assert run(ctx, name) == "Pending"
    assert succeeded(fake, name)["reason"] == "Retrying"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"architecture": "T5ForConditionalGeneration"}, "spec.architecture"),
        ({"image": "vllm/vllm-openai:v0.32.0"}, "spec.image"),
        ({"image": "nvcr.io/nvidia/tensorrt-llm/release:1.3.0"}, "spec.image"),
    ],
)
def test_a_spec_the_operator_cannot_build_gets_a_condition_naming_the_field_and_no_job(
    spec: dict[str, Any], field: str
) -> None:
    ctx, fake, name = user_build(**spec)
    with pytest.raises(InvalidSpec, match=field.replace(".", r"\.")):
        run(ctx, name)
    assert status(fake, name)["phase"] == "Failed"
    cond = succeeded(fake, name)
    assert (cond["status"], cond["reason"]) == ("False", "InvalidSpec") and cond["message"].startswith(field)
    assert not [w for w in fake.writes if w[0] == "create"], "a refused build created a Job or a claim"
    assert fake.events == [("Warning", "BuildFailed", cond["message"])]
    assert run(ctx, name) == "Failed"  # recorded once and for good, like any finished build
    assert len(fake.events) == 1, "the refusal was reported twice"
    assert not [w for w in fake.writes if w[0] == "create"]


def test_images_the_recipe_runs_in_are_accepted() -> None:
    for image in (
        "nvcr.io/nvidia/tensorrt-llm/release:1.2.1",
        "nvcr.io/nvidia/tensorrt-llm/release:1.2.0rc5",
        "registry.example.com/ml/tensorrt-llm:1.2.1-cu13",  # a company's own build: trusted
        "nvcr.io/nvidia/tensorrt-llm/release@sha256:" + "0" * 64,  # a digest says no version
    ):
        ctx, _, name = user_build(image=image)
        assert run(ctx, name) == "Pending", image


def test_pod_facts_take_the_newest_attempt() -> None:
    old = {"metadata": {"name": "b-1", "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Failed"}}
    new = {"metadata": {"name": "b-2", "creationTimestamp": "2026-01-01T00:05:00Z"}, "status": RUNNING}
    facts = build_pod_facts([new, old])
    assert facts is not None and facts.name == "b-2" and facts.building
    assert facts.running_since == "2026-01-01T00:03:00Z"
    assert build_pod_facts([]) is None


def test_a_resource_applied_after_its_precompiled_build_serves_trtllm_at_once() -> None:
    ctx, fake, name = user_build()
    run(ctx, name)
    fake.cluster_finish_job(NS, build_job_name(name), succeeded=True)
    assert run(ctx, name) == "Succeeded"
    mark = len(fake.writes)
    fake.put(sample_body(SAMPLE))
    reconcile_inference_deployment(ctx, NS, "llama-3-1-70b-trtllm", LOG)
    writes = fake.writes_since(mark)
    assert ("apply", "Deployment", "llama-3-1-70b-trtllm-trtllm") in writes
    assert not [w for w in writes if w[1] in ("Job", "EngineBuild")], writes
    assert ("Deployment", NS, "llama-3-1-70b-trtllm-vllm") not in fake.objects, "a vLLM bridge was started"
    trt = fake.body("Deployment", NS, "llama-3-1-70b-trtllm-trtllm")
    assert trt["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == name
    fake.cluster_roll_out(NS, "llama-3-1-70b-trtllm-trtllm")
    assert reconcile_inference_deployment(ctx, NS, "llama-3-1-70b-trtllm", LOG) == "Ready"
