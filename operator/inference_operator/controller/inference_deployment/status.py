"""Status of an InferenceDeployment: pure functions from (spec, plan, observed children) to phase + conditions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...api.engine_build import NO_NODE_WITH_GPU_PRODUCT, BuildPhase
from ...api.inference_deployment import (
    BuildStatus,
    Engine,
    EngineStatus,
    InferenceDeployment,
    Phase,
    PreparationPath,
    TrtllmBackend,
)
from ..conditions import Cond, merge_conditions
from ..facts import BuildFacts, DeploymentFacts
from ..plan import Mode, Plan

READY = "Ready"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
ENGINE_BUILT = "EngineBuilt"
QUANTIZED = "Quantized"  # a quantization build's condition (spec.precision.calibration), as EngineBuilt for engines
# kstatus (sigs.k8s.io/cli-utils v0.37.2, pkg/kstatus/status) reads these two first: Reconciling=True is
# InProgress, Stalled=True is Failed; then Ready. Flux, kpt and Config Sync gate on that.
RECONCILING = "Reconciling"
STALLED = "Stalled"
# Ready reasons only a spec change can clear: time and retries will not.
STALLED_REASONS = ("InvalidSpec", "EngineUnavailable", "ProgressDeadlineExceeded")


def _engine_label(engine: Engine) -> str:
    return "vLLM" if engine is Engine.VLLM else "TensorRT-LLM"


@dataclass(frozen=True)
class StatusInputs:
    """Everything status needs to know about the world."""

    plan: Plan
    deployments: dict[Engine, DeploymentFacts | None]
    build: BuildFacts | None
    unschedulable: str | None
    endpoint: str
    engine: EngineStatus
    containers: str | None = None  # why a pod's engine container is down (facts.container_trouble)
    groups_held: str | None = None  # multi-node groups removed because they could not be placed whole


def _waiting_for_room(obs: StatusInputs, name: str) -> Cond | None:
    """Ready=False for pods (or multi-node groups) the scheduler cannot place, or None."""
    if obs.groups_held:
        return Cond(READY, False, "GroupsHeldBack", obs.groups_held)
    if obs.unschedulable:
        return Cond(READY, False, "Unschedulable", f"{name} pods cannot be scheduled: {obs.unschedulable}")
    return None


def wanted_replicas(infd: InferenceDeployment, routed: DeploymentFacts | None) -> int:
    """The replicas the routed engine should have: the spec's, or under autoscaling what the HPA set."""
    if infd.spec.autoscaling is not None and routed is not None:
        return routed.desired
    return infd.spec.desired_replicas


def _phase_and_ready(infd: InferenceDeployment, obs: StatusInputs, was_ready: bool) -> tuple[Phase, Cond]:
    facts = obs.deployments.get(obs.plan.route)
    desired = wanted_replicas(infd, facts)
    name = _engine_label(obs.plan.route)
    if desired == 0:
        # What the spec asks for is in place (kstatus: Current), so Ready=True; the phase says Suspended.
        return Phase.SUSPENDED, Cond(READY, True, "Suspended", "spec.replicas is 0: no engine pods run.")
    if obs.plan.mode is Mode.UNAVAILABLE:
        msg = (
            f"TensorRT-LLM cannot serve: {obs.plan.detail}. Set spec.engine.fallback to vllm to serve with vLLM "
            "meanwhile, or fix the cause."
        )
        return Phase.FAILED, Cond(READY, False, "EngineUnavailable", msg)
    if obs.plan.mode is Mode.INTERIM and facts is None:
        return Phase.DEPLOYING, Cond(READY, False, "EngineBuilding", f"Waiting for the {_build_noun(infd)}.")
    ready = facts.ready if facts else 0
    if facts is not None and ready >= desired:
        if obs.plan.mode is Mode.FALLBACK:
            return Phase.DEGRADED, Cond(
                READY, True, "ServingFallback", f"vLLM serves as the fallback: {obs.plan.detail}."
            )
        if obs.plan.mode is Mode.OLD_ENGINE and obs.plan.detail:
            return Phase.DEGRADED, Cond(
                READY, True, "ServingPreviousEngine", f"The previous engine serves: {obs.plan.detail}."
            )
        return Phase.READY, Cond(READY, True, "Serving", f"{name} serves {ready}/{desired} replicas at {obs.endpoint}.")
    waiting = _waiting_for_room(obs, name)
    if waiting is not None:
        return (Phase.DEGRADED if ready else Phase.PENDING), waiting
    if facts is not None and facts.progress_deadline_exceeded:
        msg = f"{name} Deployment {facts.name} exceeded its progress deadline with {ready}/{desired} Ready."
        return Phase.DEGRADED, Cond(READY, False, "ProgressDeadlineExceeded", msg)
    msg = f"{name} has {ready}/{desired} replicas Ready."
    if obs.containers:
        msg += " " + obs.containers[:1].upper() + obs.containers[1:]
    # Serving before, and either still serving in part or the last rollout finished: replicas were lost.
    if was_ready and (ready or (facts is not None and facts.rollout_complete)):
        return Phase.DEGRADED, Cond(READY, False, "ReplicasUnavailable", msg)
    return Phase.DEPLOYING, Cond(READY, False, "Deploying", msg + " Models take minutes to load.")


def _build_noun(infd: InferenceDeployment) -> str:
    return "quantization build" if quantized(infd) else "TensorRT-LLM engine build"


def quantized(infd: InferenceDeployment) -> bool:
    """Whether the resource is served from a quantization build (spec.precision.calibration)."""
    return infd.spec.precision.calibration is not None


def _progressing(infd: InferenceDeployment, obs: StatusInputs) -> Cond:
    plan = obs.plan
    if plan.mode is Mode.INTERIM and quantized(infd):
        msg = f"{_engine_label(plan.route)} serves the unquantized model while the quantization build runs."
        return Cond(PROGRESSING, True, "Quantizing", msg)
    if plan.mode is Mode.INTERIM:
        return Cond(PROGRESSING, True, "EngineBuilding", "vLLM serves while the TensorRT-LLM engine compiles.")
    if plan.mode is Mode.OLD_ENGINE and not plan.detail:
        return Cond(PROGRESSING, True, "EngineBuilding", "The previous engine serves while the new one compiles.")
    others = [f for e, f in obs.deployments.items() if e is not plan.route and f is not None]
    facts = obs.deployments.get(plan.route)
    if facts is not None and not facts.rolled_out:
        return Cond(PROGRESSING, True, "RollingOut", f"Deployment {facts.name} is rolling out.")
    if others:
        return Cond(PROGRESSING, True, "CuttingOver", f"Switching traffic to {_engine_label(plan.route)}.")
    return Cond(PROGRESSING, False, "Stable", "Nothing to roll out.")


def _quantized_condition(build: BuildFacts) -> Cond:
    if build.phase is BuildPhase.SUCCEEDED:
        return Cond(QUANTIZED, True, "Succeeded", f"Quantized checkpoint {build.name} is built and cached.")
    if build.phase is BuildPhase.FAILED:
        reason = build.reason or "BuildFailed"
        return Cond(QUANTIZED, False, reason, build.message or f"Quantization build {build.name} failed.")
    detail = build.message or f"Quantization build {build.name} is {build.phase.value.lower()}."
    return Cond(QUANTIZED, None, build.reason or build.phase.value, detail)


def _build_condition(infd: InferenceDeployment, build: BuildFacts | None) -> Cond | None:
    trt = infd.spec.engine.tensorrt_llm
    if build is not None and quantized(infd):
        return _quantized_condition(build)
    if build is None or trt.effective_backend is TrtllmBackend.PYTORCH:
        return None
    if build.phase is BuildPhase.SUCCEEDED:
        return Cond(ENGINE_BUILT, True, "Succeeded", f"Engine {build.name} is built and cached.")
    if build.phase is BuildPhase.FAILED:
        # The Job's own reason (BackoffLimitExceeded, DeadlineExceeded) tells retry-worthy from hopeless.
        reason = build.reason or "BuildFailed"
        return Cond(ENGINE_BUILT, False, reason, build.message or f"Engine build {build.name} failed.")
    if build.reason == NO_NODE_WITH_GPU_PRODUCT:
        # The build names its own field; here the same product is this resource's spec.resources.gpuProduct.
        detail = build.message.removeprefix("spec.gpuProduct: ")
        return Cond(ENGINE_BUILT, None, build.reason, f"spec.resources.gpuProduct (EngineBuild {build.name}): {detail}")
    return Cond(
        ENGINE_BUILT,
        None,
        build.reason or build.phase.value,  # e.g. WaitingForWeights: not created until its entry is complete
        build.message or f"Engine build {build.name} is {build.phase.value.lower()}.",
    )


def kstatus_conditions(phase: Phase, ready: Cond, progressing: Cond) -> list[Cond]:
    """Degraded, Reconciling and Stalled, derived from the phase and the Ready and Progressing conditions."""
    stalled = ready.status is False and ready.reason in STALLED_REASONS
    degraded = phase in (Phase.DEGRADED, Phase.FAILED)
    out = [Cond(DEGRADED, degraded, ready.reason if degraded else "AsExpected", ready.message if degraded else "")]
    if stalled:
        out.append(
            Cond(
                RECONCILING, False, ready.reason, progressing.message if progressing.status is False else ready.message
            )
        )
    elif progressing.status is True:
        out.append(Cond(RECONCILING, True, progressing.reason, progressing.message))
    elif phase in (Phase.DEPLOYING, Phase.PENDING):
        out.append(Cond(RECONCILING, True, ready.reason, ready.message))
    elif phase is Phase.SUSPENDED:
        out.append(Cond(RECONCILING, False, ready.reason, ready.message))
    else:
        out.append(Cond(RECONCILING, False, progressing.reason, progressing.message))
    out.append(Cond(STALLED, True, ready.reason, ready.message) if stalled else Cond(STALLED, False, "AsExpected", ""))
    return out


def compute_status(infd: InferenceDeployment, obs: StatusInputs, previous: dict[str, Any], now: str) -> dict[str, Any]:
    """The status to write: everything but the conditions' timestamps comes from the arguments alone."""
    generation = int(infd.metadata.get("generation", 0))
    was_ready = previous.get("phase") in (Phase.READY.value, Phase.DEGRADED.value)
    phase, ready = _phase_and_ready(infd, obs, was_ready)
    progressing = _progressing(infd, obs)
    conds = [ready, progressing, *kstatus_conditions(phase, ready, progressing)]
    built = _build_condition(infd, obs.build)
    if built is not None:
        conds.append(built)
    facts = obs.deployments.get(obs.plan.route)
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "phase": phase.value,
        "message": ready.message,
        "endpoint": obs.endpoint,
        "replicas": facts.replicas if facts else 0,
        "readyReplicas": facts.ready if facts else 0,
        "engine": EngineStatus.model_validate(
            {
                **obs.engine.to_wire(),
                "active": obs.plan.route.value if facts and facts.serving else None,
                "path": serving_path(infd, facts).value if facts and facts.serving else None,
            }
        ).to_wire(),
        "conditions": merge_conditions(previous.get("conditions") or [], conds, generation, now),
    }
    if obs.build is not None:
        status["build"] = BuildStatus(
            key=obs.build.name, phase=obs.build.phase.value, message=obs.build.message
        ).to_wire()
    return status


def serving_path(infd: InferenceDeployment, facts: DeploymentFacts) -> PreparationPath:
    """What was prepared for the pods that serve: a compiled engine, a quantized checkpoint, or nothing."""
    if not facts.engine_build:
        return PreparationPath.NONE
    return PreparationPath.QUANTIZATION if quantized(infd) else PreparationPath.ENGINE_COMPILE


def invalid_spec_status(generation: int, message: str, previous: dict[str, Any], now: str) -> dict[str, Any]:
    """Status of a resource whose spec the operator cannot use: nothing runs until it is fixed."""
    ready = Cond(READY, False, "InvalidSpec", message)
    progressing = Cond(PROGRESSING, False, "InvalidSpec", "Fix the spec; nothing is rolled out until then.")
    conds = [ready, progressing, *kstatus_conditions(Phase.FAILED, ready, progressing)]
    return {
        "observedGeneration": generation,
        "phase": Phase.FAILED.value,
        "message": message,
        "conditions": merge_conditions(previous.get("conditions") or [], conds, generation, now),
    }
