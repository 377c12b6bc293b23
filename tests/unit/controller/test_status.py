"""Phase and conditions as pure functions of spec, plan and observed children."""

from __future__ import annotations

from inference_operator.api.engine_build import BuildPhase
from inference_operator.api.inference_deployment import Engine, EngineStatus
from inference_operator.controller.conditions import Cond, merge_conditions, status_changed
from inference_operator.controller.facts import BuildFacts, DeploymentFacts, build_facts, unschedulable_reason
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
    assert st["engine"] == {"selected": "vllm", "active": "vllm", "reason": "spec.engine.preference is vllm"}


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
