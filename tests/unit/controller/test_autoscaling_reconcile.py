"""The reconcile under spec.autoscaling on an in-memory client: the HPA follows the routed engine, the operator's
applied Deployment carries no replicas (it is created once by the seed manager), the count the HPA set survives
every re-apply, and the HPA goes when autoscaling does."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from inference_operator import SEED_FIELD_MANAGER
from inference_operator.api.errors import InvalidSpec
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.inference_deployment.lifecycle import converged_objects
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")
NAME = "qwen-small"
HPA = "HorizontalPodAutoscaler"
SCALING = {"minReplicas": 1, "maxReplicas": 4, "targetPerReplica": 2}
NEW_TRT = "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc21"


def setup(**spec: Any) -> tuple[Context, FakeKube]:
    fake = FakeKube()
    fake.cluster_add_gpu_nodes()
    body = sample_body("small-model")
    body["spec"] = {**body["spec"], "autoscaling": SCALING, **spec}
    fake.put(body)
    return Context(kube=fake, settings=OperatorSettings()), fake


def run(ctx: Context) -> str | None:
    return reconcile_inference_deployment(ctx, NS, NAME, LOG)


def edit(fake: FakeKube, **spec: Any) -> None:
    body = fake.body("InferenceDeployment", NS, NAME)
    fake.put({**body, "spec": {**body["spec"], **spec}})


def hpa_scales(fake: FakeKube, deployment: str, replicas: int) -> None:
    """The HPA controller writes the scale subresource; the Deployment controller rolls it out."""
    fake.body("Deployment", NS, deployment)["spec"]["replicas"] = replicas
    fake.cluster_roll_out(NS, deployment)


def test_first_reconcile_seeds_the_deployment_then_applies_it_without_replicas_and_adds_the_hpa() -> None:
    ctx, fake = setup()
    run(ctx)
    assert fake.writes[:4] == [
        ("apply", "Service", NAME),
        ("create", "Deployment", f"{NAME}-vllm"),
        ("apply", "Deployment", f"{NAME}-vllm"),
        ("apply", HPA, NAME),
    ]
    assert fake.managers == [("Deployment", f"{NAME}-vllm", SEED_FIELD_MANAGER)]
    hpa = fake.body(HPA, NS, NAME)
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{NAME}-vllm"
    status = fake.body("InferenceDeployment", NS, NAME)["status"]
    assert status["autoscaler"] == {"name": NAME, "target": f"{NAME}-vllm", "metric": "vllm_num_requests_waiting"}


def test_the_count_the_hpa_set_survives_re_applies_and_is_the_status_target() -> None:
    ctx, fake = setup()
    run(ctx)
    hpa_scales(fake, f"{NAME}-vllm", 3)
    edit(fake, engine={"preference": "vllm", "vllm": {"extraArgs": ["--enforce-eager"]}})  # a re-apply
    assert run(ctx) == "Ready"
    assert fake.body("Deployment", NS, f"{NAME}-vllm")["spec"]["replicas"] == 3
    assert fake.managers == [("Deployment", f"{NAME}-vllm", SEED_FIELD_MANAGER)]  # seeded once, never again
    status = fake.body("InferenceDeployment", NS, NAME)["status"]
    assert "3/3 replicas" in status["message"]


def test_a_cut_over_seeds_the_incoming_engine_with_the_outgoing_count_and_moves_the_hpa() -> None:
    kv = {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 0.8}
    ctx, fake = setup(autoscaling=kv)
    run(ctx)
    hpa_scales(fake, f"{NAME}-vllm", 3)
    run(ctx)
    edit(fake, engine={"preference": "tensorrt-llm", "tensorrtLLM": {"image": NEW_TRT}})
    run(ctx)
    trt = fake.body("Deployment", NS, f"{NAME}-trtllm")
    assert trt["spec"]["replicas"] == 3
    assert fake.body(HPA, NS, NAME)["spec"]["scaleTargetRef"]["name"] == f"{NAME}-vllm"  # vLLM still serves
    fake.cluster_roll_out(NS, f"{NAME}-trtllm")
    run(ctx)
    hpa = fake.body(HPA, NS, NAME)
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{NAME}-trtllm"
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "trtllm_kv_cache_utilization"
    assert fake.get("Deployment", NS, f"{NAME}-vllm") is None


def test_turning_autoscaling_off_deletes_the_hpa_and_the_spec_sets_replicas_again() -> None:
    ctx, fake = setup()
    run(ctx)
    body = fake.body("InferenceDeployment", NS, NAME)
    spec = {k: v for k, v in body["spec"].items() if k != "autoscaling"}
    fake.put({**body, "spec": {**spec, "replicas": 2}})
    run(ctx)
    assert ("delete", HPA, NAME) in fake.writes
    assert fake.get(HPA, NS, NAME) is None
    assert fake.body("Deployment", NS, f"{NAME}-vllm")["spec"]["replicas"] == 2
    assert "autoscaler" not in fake.body("InferenceDeployment", NS, NAME)["status"]


def test_a_resource_without_autoscaling_never_writes_an_hpa() -> None:
    fake = FakeKube()
    fake.put(sample_body("small-model"))
    run(Context(kube=fake, settings=OperatorSettings()))
    assert not [w for w in fake.writes if w[1] == HPA]


def test_a_signal_the_release_line_lacks_is_an_invalid_spec() -> None:
    kv = {**SCALING, "signal": "kvCacheUsage", "targetPerReplica": 0.8}
    ctx, fake = setup(autoscaling=kv, engine={"preference": "tensorrt-llm"})  # the pinned 1.2.x line
    with pytest.raises(InvalidSpec, match=r"kvCacheUsage is not exported by TensorRT-LLM 1\.2\.x"):
        run(ctx)
    status = fake.body("InferenceDeployment", NS, NAME)["status"]
    assert status["phase"] == "Failed"


def test_turning_autoscaling_on_hands_the_count_over_before_the_apply_drops_it() -> None:
    fake = FakeKube()
    body = sample_body("small-model")
    fake.put({**body, "spec": {**body["spec"], "replicas": 3}})
    ctx = Context(kube=fake, settings=OperatorSettings())
    run(ctx)
    spec = {k: v for k, v in fake.body("InferenceDeployment", NS, NAME)["spec"].items() if k != "replicas"}
    fake.put({**fake.body("InferenceDeployment", NS, NAME), "spec": {**spec, "autoscaling": SCALING}})
    fake.writes.clear()
    run(ctx)
    # The Service is as applied (no write); the seed's handover, then the apply without replicas.
    assert fake.writes[:2] == [("apply", "Deployment", f"{NAME}-vllm"), ("apply", "Deployment", f"{NAME}-vllm")]
    assert fake.managers == [("Deployment", f"{NAME}-vllm", SEED_FIELD_MANAGER)]
    assert fake.body("Deployment", NS, f"{NAME}-vllm")["spec"]["replicas"] == 3
    fake.writes.clear()
    run(ctx)  # the HPA exists now: no second handover
    assert fake.managers == [("Deployment", f"{NAME}-vllm", SEED_FIELD_MANAGER)]


def test_render_shows_the_hpa_on_the_final_engine_and_no_replicas() -> None:
    body = sample_body("small-model")
    body["spec"] = {**body["spec"], "autoscaling": SCALING}
    objects = converged_objects(InferenceDeployment.model_validate(body), OperatorSettings())
    kinds = [o["kind"] for o in objects]
    assert kinds[-1] == HPA and kinds.count(HPA) == 1
    assert objects[-1]["spec"]["scaleTargetRef"]["name"] == f"{NAME}-vllm"
    assert all("replicas" not in o["spec"] for o in objects if o["kind"] == "Deployment")
