"""A build for a GPU product no node has (issue 21): no Job, a condition and an Event naming spec.gpuProduct, looked
at again until a node joins; nodes that exist but are busy stay the scheduler's to report; Nodes the operator
may not read, or the check switched off, leave builds as they were (the Job is created)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from inference_operator.api.errors import InvalidSpec
from inference_operator.api.labels import GPU_PRODUCT_LABEL
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.engine_build.desired import NODE_RECHECK_SECONDS, waiting_for_a_node
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.kube.errors import KubeError
from inference_operator.render.engine_key import build_job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

from .test_engine_build_precompile import SAMPLE, run, status, succeeded, user_build

B200 = "NVIDIA-B200"  # a product none of the fake's nodes has
H100 = "NVIDIA-H100-80GB-HBM3"
FORBIDDEN = KubeError(403, "Forbidden", 'nodes is forbidden: cannot list resource "nodes" at the cluster scope')


def creates(fake: FakeKube) -> list[tuple[str, str]]:
    return [(kind, name) for verb, kind, name in fake.writes if verb == "create"]


def condition(fake: FakeKube, name: str, ctype: str) -> dict[str, Any]:
    return next(c for c in status(fake, name)["conditions"] if c["type"] == ctype)


def test_no_node_with_the_product_means_no_job_and_a_condition_naming_the_field() -> None:
    ctx, fake, name = user_build(gpuProduct=B200)
    assert run(ctx, name) == "Pending"
    message = status(fake, name)["message"]
    assert f"checked every {NODE_RECHECK_SECONDS}s" in message
    assert message.startswith(f"spec.gpuProduct: no node in the cluster has GPU product {B200}"), message
    assert GPU_PRODUCT_LABEL in message and "\n" not in message
    assert creates(fake) == [], "a build no node can run created a Job or a claim"
    st = status(fake, name)
    assert (st["phase"], st["message"]) == ("Pending", message)
    cond = succeeded(fake, name)
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "NoNodeWithGPUProduct", message)
    # kstatus: in progress (a node joining moves it on), not Stalled (which only a new spec would clear)
    assert condition(fake, name, "Reconciling")["status"] == "True"
    assert condition(fake, name, "Stalled")["status"] == "False"
    assert condition(fake, name, "Ready")["status"] == "False"
    assert fake.events == [("Warning", "NoNodeWithGPUProduct", message)]
    assert waiting_for_a_node(st), "the runtime's timer would not look again"


def test_looking_again_writes_nothing_until_a_node_joins_then_the_build_proceeds() -> None:
    ctx, fake, name = user_build(gpuProduct=B200)
    assert run(ctx, name) == "Pending"
    mark = len(fake.writes)
    assert run(ctx, name) == "Pending"
    assert fake.writes_since(mark) == [], "an unchanged wait wrote its status again"
    assert len(fake.events) == 1, "the wait was reported at every look"

    fake.cluster_add_node("gpu-b200-0", {GPU_PRODUCT_LABEL: B200})
    assert run(ctx, name) == "Pending"
    assert creates(fake) == [("PersistentVolumeClaim", "inference-engine-store"), ("Job", build_job_name(name))]
    job = fake.body("Job", NS, build_job_name(name))
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {GPU_PRODUCT_LABEL: B200}
    assert succeeded(fake, name)["reason"] == "Pending" and status(fake, name)["jobName"] == build_job_name(name)
    assert [r for _, r, _ in fake.events] == ["NoNodeWithGPUProduct"], "Pending to Pending is no new phase"
    assert not waiting_for_a_node(status(fake, name)), "the timer would keep looking"


def test_a_node_of_another_product_does_not_count() -> None:
    ctx, fake, name = user_build(gpuProduct=B200)
    fake.cluster_add_node("b200-lookalike", {GPU_PRODUCT_LABEL: "NVIDIA-B200-SXM"})
    assert run(ctx, name) == "Pending"
    assert creates(fake) == []


def test_nodes_the_operator_may_not_read_leave_the_build_as_before_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctx, fake, name = user_build(gpuProduct=B200)
    fake.fail_next["list:Node"] = FORBIDDEN
    with caplog.at_level(logging.WARNING):
        assert run(ctx, name) == "Pending"
    assert ("Job", build_job_name(name)) in creates(fake)
    assert ctx.nodes_readable is False
    warnings = [r.getMessage() for r in caplog.records if "may not list nodes" in r.getMessage()]
    assert len(warnings) == 1 and "cannot list resource" in warnings[0]

    other = fake.put({**fake.body("EngineBuild", NS, name), "metadata": {"name": "second", "namespace": NS}})
    fake.fail_next["list:Node"] = FORBIDDEN
    with caplog.at_level(logging.WARNING):
        assert run(ctx, other["metadata"]["name"]) == "Pending"
    assert len([r for r in caplog.records if "may not list nodes" in r.getMessage()]) == 1, "logged twice"
    assert ("Job", build_job_name("second")) in creates(fake)


def test_any_other_error_listing_nodes_is_retried_like_every_api_error() -> None:
    ctx, fake, name = user_build(gpuProduct=B200)
    fake.fail_next["list:Node"] = KubeError(503, "ServiceUnavailable", "etcd leader changed")
    with pytest.raises(KubeError) as raised:
        run(ctx, name)
    assert raised.value.transient and creates(fake) == [] and ctx.nodes_readable is None


def test_the_check_switched_off_creates_the_job_for_pools_that_scale_from_zero() -> None:
    ctx, fake, name = user_build(gpuProduct=B200)
    ctx = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, build_require_gpu_node=False))
    fake.fail_next["list:Node"] = AssertionError("the check is off: Nodes must not be read")  # type: ignore[assignment]
    assert run(ctx, name) == "Pending"
    assert ("Job", build_job_name(name)) in creates(fake)
    assert "list:Node" in fake.fail_next


def test_nodes_are_read_only_while_a_job_is_to_be_created() -> None:
    ctx, fake, name = user_build()
    assert run(ctx, name) == "Pending"
    fake.objects = {k: v for k, v in fake.objects.items() if k[0] != "Node"}  # the H100 nodes go away
    assert run(ctx, name) == "Pending", "a build whose Job exists waits for the scheduler's verdict instead"
    assert succeeded(fake, name)["reason"] != "NoNodeWithGPUProduct"


def test_the_scheduler_saying_no_node_matches_is_not_a_wait_for_a_node() -> None:
    """The timer looks again only for a build without a Job: with one, the pod's events move the build on."""
    waiting = {"conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "NoNodeWithGPUProduct"}]}
    assert waiting_for_a_node(waiting)
    assert not waiting_for_a_node({**waiting, "jobName": "build-x"})
    assert not waiting_for_a_node({"conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Pending"}]})
    assert not waiting_for_a_node({})


def test_a_resource_for_a_product_no_node_has_names_its_own_field() -> None:
    fake = FakeKube()
    fake.cluster_add_node("gpu-0", {GPU_PRODUCT_LABEL: H100})
    body = sample_body(SAMPLE)
    body["spec"]["resources"]["gpuProduct"] = B200
    fake.put(body)
    ctx = Context(kube=fake, settings=OperatorSettings())
    infd = body["metadata"]["name"]
    reconcile_inference_deployment(ctx, NS, infd, logging.getLogger("test"))
    (build,) = [name for kind, _, name in fake.objects if kind == "EngineBuild"]
    assert run(ctx, build) == "Pending"
    assert not [k for k in fake.objects if k[0] == "Job"]
    reconcile_inference_deployment(ctx, NS, infd, logging.getLogger("test"))
    built = next(
        c for c in fake.body("InferenceDeployment", NS, infd)["status"]["conditions"] if c["type"] == "EngineBuilt"
    )
    assert (built["status"], built["reason"]) == ("Unknown", "NoNodeWithGPUProduct")
    assert built["message"].startswith(f"spec.resources.gpuProduct (EngineBuild {build}): no node in the cluster")


@pytest.mark.parametrize("product", ["NVIDIA H100", "nvidia.com/H100", "-H100"])
def test_a_product_that_is_no_label_value_is_refused_naming_the_field(product: str) -> None:
    """Nodes are selected by the product's label: a value no label can hold is an invalid spec, not a wait."""
    ctx, fake, name = user_build()
    fake.body("EngineBuild", NS, name)["spec"]["gpuProduct"] = product
    with pytest.raises(InvalidSpec, match=r"spec\.gpuProduct"):
        run(ctx, name)
    assert creates(fake) == []
