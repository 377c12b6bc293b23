"""The InferenceDeployment reconcile end to end on an in-memory client: every branch of the serving plan as a
sequence of reconciles (cut-over, fallback, rebuild, switch back, unschedulable, invalid spec), the write order,
and the status and Events each step leaves. No cluster: tests/support/fake_kube.py plays the API server."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from inference_operator.api.errors import InvalidSpec
from inference_operator.api.labels import LABEL_BUILD, LABEL_ENGINE
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import MONITORING_API, Context
from inference_operator.controller.engine_build.reconcile import reconcile_engine_build
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.kube.errors import KubeError
from inference_operator.render.engine_key import build_job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")
TRT = "llama-3-1-70b-trtllm"  # the TensorRT-LLM sample: engine backend, fallback vllm, Recreate
VLLM = "qwen-small"  # the small-model sample: vLLM


def setup(
    sample: str = "llama-3-1-70b-h100-trtllm", monitoring_api: bool = False, **spec: Any
) -> tuple[Context, FakeKube]:
    fake = FakeKube(served_apis={MONITORING_API} if monitoring_api else set())
    fake.cluster_add_gpu_nodes()
    body = sample_body(sample)
    body["spec"] = merge(body["spec"], spec)
    fake.put(body)
    return Context(kube=fake, settings=OperatorSettings()), fake


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        out[key] = merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def edit(fake: FakeKube, name: str, **spec: Any) -> None:
    body = copy.deepcopy(fake.body("InferenceDeployment", NS, name))
    body["spec"] = merge(body["spec"], spec)
    fake.put(body)


def run(ctx: Context, name: str = TRT) -> str | None:
    return reconcile_inference_deployment(ctx, NS, name, LOG)


def status(fake: FakeKube, name: str = TRT) -> dict[str, Any]:
    result: dict[str, Any] = fake.body("InferenceDeployment", NS, name)["status"]
    return result


def condition(fake: FakeKube, ctype: str, name: str = TRT) -> dict[str, Any]:
    return next(c for c in status(fake, name)["conditions"] if c["type"] == ctype)


def routed(fake: FakeKube, name: str = TRT) -> str:
    return str(fake.body("Service", NS, name)["spec"]["selector"][LABEL_ENGINE])


def exists(fake: FakeKube, kind: str, name: str) -> bool:
    return (kind, NS, name) in fake.objects


def build_name(fake: FakeKube, name: str = TRT) -> str:
    """The EngineBuild the resource uses now, as its status names it."""
    return str(status(fake, name)["build"]["key"])


def finish_build(ctx: Context, fake: FakeKube, succeeded: bool) -> str:
    """The EngineBuild reconciles (its Job is created), the Job finishes, the EngineBuild records the result."""
    name = build_name(fake)
    assert exists(fake, "EngineBuild", name)
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Pending"
    fake.cluster_finish_job(NS, build_job_name(name), succeeded)
    phase = reconcile_engine_build(ctx, NS, name, LOG)
    assert phase == ("Succeeded" if succeeded else "Failed")
    return name


def serve_trtllm(ctx: Context, fake: FakeKube) -> str:
    """From nothing to TensorRT-LLM serving the built engine (the cut-over sequence)."""
    run(ctx)
    fake.cluster_roll_out(NS, f"{TRT}-vllm")
    run(ctx)
    build = finish_build(ctx, fake, succeeded=True)
    run(ctx)
    fake.cluster_roll_out(NS, f"{TRT}-trtllm")
    assert run(ctx) == "Ready"
    return build


def test_cut_over_from_interim_vllm_to_the_built_engine_never_leaves_no_endpoint() -> None:
    ctx, fake = setup()
    assert run(ctx) == "Deploying"
    build = build_name(fake)
    assert exists(fake, "PersistentVolumeClaim", "inference-engine-store")
    assert ctx.users_of(NS, build) == [TRT]
    assert routed(fake) == "vllm" and not exists(fake, "Deployment", f"{TRT}-trtllm")
    assert condition(fake, "Progressing")["reason"] == "EngineBuilding"

    fake.cluster_roll_out(NS, f"{TRT}-vllm")
    assert run(ctx) == "Ready"  # vLLM serves while the engine compiles
    assert condition(fake, "EngineBuilt")["status"] == "Unknown"

    finish_build(ctx, fake, succeeded=True)
    assert ("Normal", "BuildSucceeded") in [(t, r) for t, r, _ in fake.events]
    assert run(ctx) == "Ready"
    trt = fake.body("Deployment", NS, f"{TRT}-trtllm")
    assert trt["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == build
    assert routed(fake) == "vllm" and exists(fake, "Deployment", f"{TRT}-vllm")  # not before TRT is Ready

    fake.cluster_roll_out(NS, f"{TRT}-trtllm")
    mark, fresh = len(fake.writes), fake.fresh_reads
    assert run(ctx) == "Ready"
    assert fake.fresh_reads > fresh, "traffic moved on a cached read"
    writes = fake.writes_since(mark)
    assert writes.index(("apply", "Service", TRT)) < writes.index(("delete", "Deployment", f"{TRT}-vllm"))
    assert routed(fake) == "tensorrt-llm" and not exists(fake, "Deployment", f"{TRT}-vllm")
    assert status(fake)["engine"]["active"] == "tensorrt-llm"
    assert condition(fake, "EngineBuilt")["status"] == "True"
    assert ("Normal", "CutOver") in [(t, r) for t, r, _ in fake.events]


def test_a_second_reconcile_of_a_converged_resource_writes_no_status_and_no_event() -> None:
    ctx, fake = setup("small-model")
    run(ctx, VLLM)
    fake.cluster_roll_out(NS, f"{VLLM}-vllm")
    assert run(ctx, VLLM) == "Ready"
    mark, events = len(fake.writes), len(fake.events)
    assert run(ctx, VLLM) == "Ready"
    assert ("patch", "InferenceDeployment", VLLM) not in fake.writes_since(mark)
    assert len(fake.events) == events


@pytest.mark.parametrize("sample", ["small-model", "llama-3-1-70b-h100-trtllm"])
def test_a_restarted_operator_writes_nothing_to_a_converged_resource(sample: str) -> None:
    """The fake remembers no applies (each reconcile is that of a new process): the stamps on the children do."""
    ctx, fake = setup(sample)
    name = VLLM if sample == "small-model" else TRT
    if name == TRT:
        serve_trtllm(ctx, fake)
    else:
        run(ctx, name)
        fake.cluster_roll_out(NS, f"{name}-vllm")
    assert run(ctx, name) == "Ready"
    mark, events, creates = len(fake.writes), len(fake.events), fake.create_calls
    restarted = Context(kube=fake, settings=OperatorSettings())
    assert run(restarted, name) == "Ready"
    assert fake.writes_since(mark) == [] and len(fake.events) == events
    assert fake.create_calls == creates, "a create was tried (a 409 is a request too)"


def test_a_restarted_operator_puts_right_a_child_changed_behind_its_back() -> None:
    ctx, fake = setup("small-model")
    run(ctx, VLLM)
    fake.cluster_roll_out(NS, f"{VLLM}-vllm")
    assert run(ctx, VLLM) == "Ready"
    deployment = fake.body("Deployment", NS, f"{VLLM}-vllm")
    wanted = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "someone/else:1"
    mark = len(fake.writes)
    run(Context(kube=fake, settings=OperatorSettings()), VLLM)
    # Applied again (a new generation: the status follows the rollout), the unchanged Service not.
    assert [w for w in fake.writes_since(mark) if w[0] == "apply"] == [("apply", "Deployment", f"{VLLM}-vllm")]
    assert fake.body("Deployment", NS, f"{VLLM}-vllm")["spec"]["template"]["spec"]["containers"][0]["image"] == wanted


def test_a_failed_build_falls_back_to_vllm_and_says_so() -> None:
    ctx, fake = setup()
    run(ctx)
    fake.cluster_roll_out(NS, f"{TRT}-vllm")
    finish_build(ctx, fake, succeeded=False)
    assert run(ctx) == "Degraded"
    assert condition(fake, "Ready")["reason"] == "ServingFallback"
    built = condition(fake, "EngineBuilt")
    assert built["status"] == "False" and built["reason"] == "BackoffLimitExceeded"
    assert routed(fake) == "vllm" and not exists(fake, "Deployment", f"{TRT}-trtllm")
    assert ("Warning", "Degraded") in [(t, r) for t, r, _ in fake.events]


def test_a_failed_build_without_fallback_serves_nothing() -> None:
    ctx, fake = setup(engine={"fallback": "none"})
    run(ctx)
    finish_build(ctx, fake, succeeded=False)
    assert run(ctx) == "Failed"
    assert condition(fake, "Ready")["reason"] == "EngineUnavailable"
    assert not exists(fake, "Deployment", f"{TRT}-vllm") and not exists(fake, "Deployment", f"{TRT}-trtllm")


@pytest.mark.parametrize(
    ("fallback", "phase", "reason"), [("vllm", "Deploying", "Deploying"), ("none", "Failed", "EngineUnavailable")]
)
def test_an_architecture_tensorrt_llm_cannot_build(fallback: str, phase: str, reason: str) -> None:
    ctx, fake = setup(model={"architecture": "NoSuchForCausalLM"}, engine={"fallback": fallback})
    assert run(ctx) == phase
    assert condition(fake, "Ready")["reason"] == reason
    assert not any(kind == "EngineBuild" for kind, _, _ in fake.objects)
    assert exists(fake, "Deployment", f"{TRT}-vllm") is (fallback == "vllm")
    if fallback == "vllm":
        fake.cluster_roll_out(NS, f"{TRT}-vllm")
        assert run(ctx) == "Degraded"
        assert "NoSuchForCausalLM" in condition(fake, "Ready")["message"]


def test_rebuild_keeps_the_old_engine_serving_then_recreate_bridges_with_vllm() -> None:
    ctx, fake = setup()
    old = serve_trtllm(ctx, fake)
    edit(fake, TRT, precision={"quantization": "none"})
    assert run(ctx) == "Ready"
    new = build_name(fake)
    assert new != old
    assert condition(fake, "Progressing")["message"] == "The previous engine serves while the new one compiles."
    trt = fake.body("Deployment", NS, f"{TRT}-trtllm")
    assert trt["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == old
    assert not exists(fake, "Deployment", f"{TRT}-vllm")

    finish_build(ctx, fake, succeeded=True)
    run(ctx)  # Recreate would stop the old engine's pods at once: vLLM comes up first, the old engine serves
    assert routed(fake) == "tensorrt-llm" and exists(fake, "Deployment", f"{TRT}-vllm")
    assert fake.body("Deployment", NS, f"{TRT}-trtllm")["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == old
    fake.cluster_roll_out(NS, f"{TRT}-vllm")
    run(ctx)  # vLLM takes the traffic, then the engine Deployment moves to the new engine
    assert routed(fake) == "vllm"
    assert fake.body("Deployment", NS, f"{TRT}-trtllm")["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == new
    fake.cluster_roll_out(NS, f"{TRT}-trtllm")
    assert run(ctx) == "Ready"
    assert routed(fake) == "tensorrt-llm" and not exists(fake, "Deployment", f"{TRT}-vllm")


def test_rebuild_with_rolling_update_starts_no_vllm() -> None:
    ctx, fake = setup(serving={"rollout": {"strategy": "RollingUpdate"}})
    old = serve_trtllm(ctx, fake)
    edit(fake, TRT, precision={"quantization": "none"})
    run(ctx)
    new = finish_build(ctx, fake, succeeded=True)
    assert new != old
    run(ctx)
    assert not exists(fake, "Deployment", f"{TRT}-vllm")
    assert routed(fake) == "tensorrt-llm"
    assert fake.body("Deployment", NS, f"{TRT}-trtllm")["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == new


def test_a_failed_rebuild_keeps_the_previous_engine_and_is_degraded() -> None:
    ctx, fake = setup()
    serve_trtllm(ctx, fake)
    edit(fake, TRT, precision={"quantization": "none"})
    run(ctx)
    finish_build(ctx, fake, succeeded=False)
    assert run(ctx) == "Degraded"
    assert condition(fake, "Ready")["reason"] == "ServingPreviousEngine"
    assert routed(fake) == "tensorrt-llm"


def test_switching_back_to_vllm_keeps_tensorrt_llm_until_vllm_is_ready() -> None:
    ctx, fake = setup()
    build = serve_trtllm(ctx, fake)
    edit(fake, TRT, engine={"preference": "vllm"})
    run(ctx)
    assert routed(fake) == "tensorrt-llm" and exists(fake, "Deployment", f"{TRT}-trtllm")
    fake.cluster_roll_out(NS, f"{TRT}-vllm")
    assert run(ctx) == "Ready"
    assert routed(fake) == "vllm" and not exists(fake, "Deployment", f"{TRT}-trtllm")
    assert ctx.users_of(NS, build) == []


def test_without_serve_while_building_nothing_serves_until_the_engine_is_built() -> None:
    ctx, fake = setup(engine={"serveWhileBuilding": False})
    assert run(ctx) == "Deploying"
    assert condition(fake, "Ready")["reason"] == "EngineBuilding"
    assert not exists(fake, "Deployment", f"{TRT}-vllm") and not exists(fake, "Deployment", f"{TRT}-trtllm")
    finish_build(ctx, fake, succeeded=True)
    run(ctx)
    assert exists(fake, "Deployment", f"{TRT}-trtllm") and not exists(fake, "Deployment", f"{TRT}-vllm")


def test_an_interim_vllm_is_kept_when_serve_while_building_is_turned_off() -> None:
    ctx, fake = setup()
    run(ctx)
    edit(fake, TRT, engine={"serveWhileBuilding": False})
    mark = len(fake.writes)
    run(ctx)
    assert exists(fake, "Deployment", f"{TRT}-vllm")
    assert ("apply", "Deployment", f"{TRT}-vllm") not in fake.writes_since(mark)  # kept as it is


def test_the_pytorch_backend_needs_no_build_and_no_interim_vllm() -> None:
    ctx, fake = setup(engine={"tensorrtLLM": {"backend": "pytorch"}})
    run(ctx)
    assert not any(kind in ("EngineBuild", "PersistentVolumeClaim") for kind, _, _ in fake.objects)
    assert exists(fake, "Deployment", f"{TRT}-trtllm") and not exists(fake, "Deployment", f"{TRT}-vllm")
    fake.cluster_roll_out(NS, f"{TRT}-trtllm")
    assert run(ctx) == "Ready"


def test_unschedulable_pods_are_the_status_message() -> None:
    ctx, fake = setup("small-model")
    run(ctx, VLLM)
    fake.cluster_roll_out(NS, f"{VLLM}-vllm", ready=0)
    labels = fake.body("Deployment", NS, f"{VLLM}-vllm")["spec"]["template"]["metadata"]["labels"]
    message = "0/7 nodes are available: 7 Insufficient nvidia.com/gpu."
    scheduled = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    pod_status = {"conditions": [scheduled]}
    fake.put({"kind": "Pod", "metadata": {"name": "p", "namespace": NS, "labels": labels}, "status": pod_status})
    assert run(ctx, VLLM) == "Pending"
    ready = condition(fake, "Ready", VLLM)
    assert ready["reason"] == "Unschedulable" and message in ready["message"]


def test_a_new_resource_reaches_ready_with_two_status_writes_and_no_routine_event() -> None:
    """Two status writes (Deploying, then Ready) beside the two applies (the client skips a re-apply of the same
    content, which this fake does not): the status says each step, the Ready condition when it came
    (lastTransitionTime); an Event per routine step would be one more write per resource."""
    ctx, fake = setup("small-model")
    assert run(ctx, VLLM) == "Deploying"
    fake.cluster_roll_out(NS, f"{VLLM}-vllm")
    assert run(ctx, VLLM) == "Ready"
    assert fake.events == []
    assert [w for w in fake.writes if w[0] == "patch"] == [("patch", "InferenceDeployment", VLLM)] * 2
    ready = condition(fake, "Ready", VLLM)
    assert ready["status"] == "True" and ready["lastTransitionTime"]


def test_trouble_and_the_recovery_from_it_get_an_event() -> None:
    ctx, fake = setup("small-model")
    run(ctx, VLLM)
    fake.cluster_roll_out(NS, f"{VLLM}-vllm", ready=0)
    labels = fake.body("Deployment", NS, f"{VLLM}-vllm")["spec"]["template"]["metadata"]["labels"]
    scheduled = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/7 nodes"}
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": NS, "labels": labels}}
    fake.put(pod | {"status": {"conditions": [scheduled]}})
    assert run(ctx, VLLM) == "Pending"
    fake.put(pod | {"status": {"conditions": [scheduled | {"status": "True", "reason": ""}]}})
    fake.cluster_roll_out(NS, f"{VLLM}-vllm")
    assert run(ctx, VLLM) == "Ready"
    assert [r for _, r, _ in fake.events] == ["Pending", "Ready"]
    assert run(ctx, VLLM) == "Ready" and len(fake.events) == 2  # no change, no Event


def test_suspended_runs_nothing_and_says_so() -> None:
    ctx, fake = setup("small-model", replicas=0)
    assert run(ctx, VLLM) == "Suspended"
    assert fake.body("Deployment", NS, f"{VLLM}-vllm")["spec"]["replicas"] == 0


def test_an_engine_without_a_gpu_product_is_an_invalid_spec_reported_once() -> None:
    ctx, fake = setup(resources={"gpuProduct": None})
    with pytest.raises(InvalidSpec, match=r"spec\.resources\.gpuProduct"):
        run(ctx)
    assert status(fake)["phase"] == "Failed" and condition(fake, "Ready")["reason"] == "InvalidSpec"
    with pytest.raises(InvalidSpec):
        run(ctx)
    assert [r for _, r, _ in fake.events].count("InvalidSpec") == 1


def test_a_child_the_api_server_refuses_is_an_invalid_spec_not_a_retry() -> None:
    ctx, fake = setup("small-model")
    fake.fail_next["apply:Deployment"] = KubeError(422, "Invalid", "spec.template: Invalid value")
    with pytest.raises(InvalidSpec, match="refused"):
        run(ctx, VLLM)
    assert condition(fake, "Ready", VLLM)["reason"] == "InvalidSpec"


def test_a_transient_error_is_raised_for_a_retry_and_writes_no_status() -> None:
    ctx, fake = setup("small-model")
    fake.fail_next["apply:Service"] = KubeError(0, "Unreachable", "connection refused")
    with pytest.raises(KubeError) as raised:
        run(ctx, VLLM)
    assert raised.value.transient
    assert "status" not in fake.body("InferenceDeployment", NS, VLLM)


def test_pod_monitor_follows_the_spec_and_the_api() -> None:
    ctx, fake = setup("small-model", monitoring_api=True, monitoring={"enabled": True})
    run(ctx, VLLM)
    assert exists(fake, "PodMonitor", VLLM)
    edit(fake, VLLM, monitoring={"enabled": False})
    run(ctx, VLLM)
    assert not exists(fake, "PodMonitor", VLLM)
    edit(fake, VLLM, monitoring={"enabled": True})
    fake.served_apis.clear()  # the CRDs were removed after the operator looked
    run(ctx, VLLM)
    assert ctx.monitoring_api is None  # asked again next time; serving went on
    assert exists(fake, "Deployment", f"{VLLM}-vllm")


def test_a_deleted_resource_is_forgotten() -> None:
    ctx, fake = setup()
    run(ctx)
    build = build_name(fake)
    assert ctx.users_of(NS, build) == [TRT]
    del fake.objects[("InferenceDeployment", NS, TRT)]
    assert run(ctx) is None
    assert ctx.users_of(NS, build) == [] and ctx.fleet.known() == []


def test_a_resource_is_a_user_of_its_build_before_the_build_is_read() -> None:
    """A build finishing between the read and the registration would find no user to trigger (handlers.py's
    on_build_finished), and the resource would keep the phase it read: the read must come after."""
    ctx, fake = setup()
    run(ctx)
    build = build_name(fake)
    users_at_read: list[list[str]] = []
    real_get = fake.get

    def get(kind: str, namespace: str, name: str, fresh: bool = False) -> dict[str, Any] | None:
        if kind == "EngineBuild":
            users_at_read.append(ctx.users_of(namespace, name))
        return real_get(kind, namespace, name, fresh)

    restarted = Context(kube=fake, settings=OperatorSettings())  # a new process: nobody registered yet
    ctx = restarted
    fake.get = get  # type: ignore[method-assign]
    run(restarted)
    assert users_at_read and all(users == [TRT] for users in users_at_read), users_at_read
    assert restarted.users_of(NS, build) == [TRT]
