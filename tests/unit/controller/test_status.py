"""Phase and conditions as pure functions of spec, plan and observed children."""

from __future__ import annotations

import dataclasses

from inference_operator.api.engine_build import BuildPhase
from inference_operator.api.inference_deployment import Engine, EngineStatus
from inference_operator.controller.conditions import Cond, merge_conditions, status_changed
from inference_operator.controller.facts import (
    BuildFacts,
    DeploymentFacts,
    build_facts,
    container_trouble,
    deployment_facts,
    unschedulable_reason,
)
from inference_operator.controller.inference_deployment.status import StatusInputs, compute_status, invalid_spec_status
from inference_operator.controller.plan import Action, Mode, Plan
from tests.support.samples import load_sample

VLLM, TRT = Engine.VLLM, Engine.TENSORRT_LLM
INFD = load_sample("small-model")
PLAN = Plan(Action.APPLY, Action.DELETE, None, VLLM, Mode.DIRECT, "")
ENGINE = EngineStatus(selected=VLLM, reason="spec.engine.preference is vllm")


def dep(ready: int, desired: int = 1, rolled_out: bool = True) -> DeploymentFacts:
    return DeploymentFacts(
        name="small-vllm",
        generation=1,
        observed_generation=1 if rolled_out else 0,
        desired=desired,
        replicas=desired,
        ready=ready,
        updated=desired if rolled_out else 0,
        available=ready,
        engine_build=None,
        progress_deadline_exceeded=False,
    )


def status(
    plan: Plan = PLAN,
    vllm: DeploymentFacts | None = None,
    unsched: str | None = None,
    build: BuildFacts | None = None,
    previous: dict[str, object] | None = None,
    replicas: int = 1,
) -> dict[str, object]:
    obs = StatusInputs(plan, {VLLM: vllm, TRT: None}, build, unsched, "http://x.default.svc:8000/v1", ENGINE)
    infd = INFD.model_copy(update={"spec": INFD.spec.model_copy(update={"replicas": replicas})})
    return compute_status(infd, obs, dict(previous or {}), "2026-01-01T00:00:00Z")


def conds(st: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["type"]: c for c in st["conditions"]}  # type: ignore[attr-defined]


def test_ready_when_every_replica_is_ready() -> None:
    st = status(vllm=dep(1))
    assert st["phase"] == "Ready"
    assert conds(st)["Ready"]["status"] == "True"
    assert st["endpoint"] == "http://x.default.svc:8000/v1"
    # path: what the serving pods run on (issue 16 §3); vLLM on the checkpoint as it is.
    assert st["engine"] == {
        "selected": "vllm",
        "active": "vllm",
        "path": "None",
        "reason": "spec.engine.preference is vllm",
    }


def test_deploying_while_the_model_loads() -> None:
    st = status(vllm=dep(0))
    assert st["phase"] == "Deploying"
    assert conds(st)["Ready"]["reason"] == "Deploying"
    assert "active" not in st["engine"]  # type: ignore[operator]


def test_unschedulable_says_why_with_the_schedulers_words() -> None:
    msg = "0/5 nodes are available: 4 Insufficient nvidia.com/gpu, 1 node(s) didn't match node selector."
    st = status(vllm=dep(0), unsched=msg)
    assert st["phase"] == "Pending"
    assert conds(st)["Ready"]["reason"] == "Unschedulable"
    assert msg in str(conds(st)["Ready"]["message"])


def test_scheduler_reason_is_read_from_pod_conditions() -> None:
    pod = {
        "metadata": {"name": "p"},
        "status": {
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/5 nodes"}
            ]
        },
    }
    assert unschedulable_reason([pod]) == "0/5 nodes"
    assert unschedulable_reason([{"metadata": {"name": "q"}, "status": {}}]) is None


def test_losing_replicas_after_ready_is_degraded() -> None:
    st = status(vllm=dep(1, desired=2), previous={"phase": "Ready"}, replicas=2)
    assert st["phase"] == "Degraded"
    assert conds(st)["Degraded"]["status"] == "True"


def test_losing_the_only_replica_after_ready_is_degraded_and_says_why() -> None:
    # Seen for real: a SIGKILLed vLLM (tests/e2e/test_real_engine.py) left the resource "Deploying ... Models take
    # minutes to load", as if it had never served.
    lost = dataclasses.replace(dep(0), rollout_complete=True)
    why = "container vllm of pod small-vllm-1 exited with code 137 (Error) and is being restarted."
    obs = StatusInputs(PLAN, {VLLM: lost, TRT: None}, None, None, "http://x/v1", ENGINE, why)
    st = compute_status(INFD, obs, {"phase": "Ready"}, "2026-01-01T00:00:00Z")
    assert st["phase"] == "Degraded" and st["readyReplicas"] == 0
    ready = conds(st)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "ReplicasUnavailable"
    assert (
        ready["message"] == "vLLM has 0/1 replicas Ready. Container vllm of pod small-vllm-1 exited with code 137 "
        "(Error) and is being restarted."
    )
    # Still Degraded on the next reconcile (the previous phase is Degraded now), Ready again once it is back.
    assert compute_status(INFD, obs, st, "2026-01-01T00:01:00Z")["phase"] == "Degraded"
    assert status(vllm=dep(1), previous=st)["phase"] == "Ready"


def test_a_rollout_in_progress_with_no_replica_ready_is_deploying() -> None:
    # Recreate: the old pods are gone before the new ones load; the rollout has not completed.
    st = status(vllm=dep(0), previous={"phase": "Ready"})
    assert st["phase"] == "Deploying"
    assert "Models take minutes to load" in str(st["message"])


def test_container_trouble_in_the_kubelets_words() -> None:
    def pod(name: str, **container: object) -> dict[str, object]:
        return {"metadata": {"name": name}, "status": {"containerStatuses": [{"name": "vllm", **container}]}}

    restarted = pod(
        "p2",
        ready=False,
        restartCount=2,
        state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"exitCode": 1, "reason": "Error"}},
    )
    assert container_trouble([restarted]) == (
        "container vllm of pod p2 has restarted 2 times (last exit code 1, Error); it waits: CrashLoopBackOff."
    )
    loading = pod("p1", ready=False, restartCount=1, state={"running": {}}, lastState={"terminated": {"exitCode": 137}})
    assert container_trouble([restarted, loading]) == (
        "container vllm of pod p1 has restarted 1 time (last exit code 137, Error)."
    )
    unmapped = pod("p3", ready=False, state={"waiting": {"reason": "ErrImagePull", "message": "no such image"}})
    assert container_trouble([unmapped]) == "container vllm of pod p3 waits: ErrImagePull: no such image."
    starting = pod("p4", ready=False, state={"waiting": {"reason": "ContainerCreating"}})
    serving = pod("p5", ready=True, restartCount=3, state={"running": {}})
    assert container_trouble([starting, serving]) is None


def test_rollout_complete_is_read_from_the_progressing_condition() -> None:
    def deployment(reason: str) -> dict[str, object]:
        conditions = [{"type": "Progressing", "status": "True", "reason": reason}]
        return {"metadata": {"name": "d"}, "spec": {}, "status": {"conditions": conditions}}

    assert deployment_facts(deployment("NewReplicaSetAvailable")).rollout_complete  # type: ignore[union-attr]
    assert not deployment_facts(deployment("ReplicaSetUpdated")).rollout_complete  # type: ignore[union-attr]


def test_fallback_is_degraded_but_serving() -> None:
    plan = Plan(Action.APPLY, Action.DELETE, None, VLLM, Mode.FALLBACK, "the engine build eb failed: OOM")
    st = status(plan=plan, vllm=dep(1), build=BuildFacts("eb", BuildPhase.FAILED, "OOM"))
    assert st["phase"] == "Degraded"
    c = conds(st)
    assert c["Ready"]["status"] == "True" and c["Ready"]["reason"] == "ServingFallback"
    assert c["EngineBuilt"]["status"] == "False" and c["EngineBuilt"]["message"] == "OOM"
    assert st["build"] == {"key": "eb", "phase": "Failed", "message": "OOM"}


def test_a_failed_build_carries_the_jobs_reason() -> None:
    plan = Plan(Action.APPLY, Action.DELETE, None, VLLM, Mode.FALLBACK, "the engine build eb failed")
    eb = {
        "metadata": {"name": "eb"},
        "status": {
            "phase": "Failed",
            "message": "Build Job eb-build failed (DeadlineExceeded): Job was active longer than specified deadline.",
            "conditions": [{"type": "Succeeded", "status": "False", "reason": "DeadlineExceeded"}],
        },
    }
    st = status(plan=plan, vllm=dep(1), build=build_facts(eb))
    built = conds(st)["EngineBuilt"]
    assert (built["status"], built["reason"]) == ("False", "DeadlineExceeded")
    assert "DeadlineExceeded" in str(built["message"])


def test_unavailable_is_failed_with_an_actionable_message() -> None:
    plan = Plan(Action.DELETE, Action.DELETE, None, TRT, Mode.UNAVAILABLE, "the engine build eb failed: OOM")
    st = status(plan=plan)
    assert st["phase"] == "Failed"
    assert "spec.engine.fallback" in str(st["message"])


def test_last_transition_time_moves_only_when_status_changes() -> None:
    first = merge_conditions([], [Cond("Ready", False, "Deploying", "a")], 1, "t1")
    same = merge_conditions(first, [Cond("Ready", False, "Deploying", "b")], 2, "t2")
    flipped = merge_conditions(same, [Cond("Ready", True, "Serving", "c")], 2, "t3")
    assert [c["lastTransitionTime"] for c in (first[0], same[0], flipped[0])] == ["t1", "t1", "t3"]
    assert same[0]["observedGeneration"] == 2


def test_reconciling_twice_changes_nothing() -> None:
    st = status(vllm=dep(1))
    again = status(vllm=dep(1), previous=st)
    assert again == st
    assert not status_changed({**st, "kopf": {"x": 1}}, again)


def test_invalid_spec_names_the_field() -> None:
    st = invalid_spec_status(3, "spec.model.name: field required", {}, "t")
    assert st["phase"] == "Failed" and st["observedGeneration"] == 3
    assert st["conditions"][0]["reason"] == "InvalidSpec"
    assert "spec.model.name" in st["conditions"][0]["message"]


def test_only_what_a_spec_change_can_fix_is_stalled() -> None:
    """Stalled (kstatus: Failed) for a progress deadline; not for an unschedulable pod, which a new node fixes."""
    deadline = dep(0, rolled_out=False)
    deadline = DeploymentFacts(**{**deadline.__dict__, "progress_deadline_exceeded": True})
    st = status(vllm=deadline)
    assert (conds(st)["Stalled"]["status"], conds(st)["Stalled"]["reason"]) == ("True", "ProgressDeadlineExceeded")
    assert conds(st)["Reconciling"]["status"] == "False"
    st = status(vllm=dep(0), unsched="0/5 nodes are available")
    assert conds(st)["Stalled"]["status"] == "False"
    assert conds(st)["Reconciling"]["status"] == "True"


def test_reconciling_follows_a_rollout_and_ends_with_it() -> None:
    rolling = status(vllm=dep(1, rolled_out=False))
    assert rolling["phase"] == "Ready"
    assert (conds(rolling)["Reconciling"]["status"], conds(rolling)["Reconciling"]["reason"]) == ("True", "RollingOut")
    done = status(vllm=dep(1), previous=rolling)
    assert conds(done)["Reconciling"]["status"] == "False"
    assert conds(done)["Stalled"] == conds(rolling)["Stalled"], "an unchanged condition was rewritten"
