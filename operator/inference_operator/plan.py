"""Which serving Deployments should exist and which engine the Service routes to. Pure.

The rule that makes cut-overs safe: the Service moves to an engine only once that engine's Deployment has
rolled out and is Ready, and the other engine's Deployment goes only after that. So at no moment is there no
ready endpoint, whether vLLM hands over to a freshly built TensorRT-LLM engine, an old engine hands over to a
rebuilt one, or a resource is switched back to vLLM.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .api.engine_build import BuildPhase
from .api.inference_deployment import Engine, Fallback, InferenceDeployment, TrtllmBackend
from .observed import BuildFacts, DeploymentFacts


class Action(enum.StrEnum):
    APPLY = "apply"  # render from the current spec and apply
    KEEP = "keep"  # leave as it is: it serves until its successor is Ready
    DELETE = "delete"


class Mode(enum.StrEnum):
    DIRECT = "Direct"  # the selected engine serves (or is rolling out)
    INTERIM = "Interim"  # vLLM serves while the TensorRT-LLM engine compiles
    OLD_ENGINE = "OldEngine"  # the previous TensorRT-LLM engine serves while its replacement compiles
    FALLBACK = "Fallback"  # TensorRT-LLM cannot serve; vLLM does (engine.fallback: vllm)
    UNAVAILABLE = "Unavailable"  # TensorRT-LLM cannot serve and fallback is none


@dataclass(frozen=True)
class Plan:
    vllm: Action
    trtllm: Action
    trtllm_build: str | None  # EngineBuild whose engine the applied TensorRT-LLM Deployment runs
    route: Engine
    mode: Mode
    detail: str  # why, for the status message (empty when nothing needs saying)


def _route(final: Engine, deployments: dict[Engine, DeploymentFacts | None], keep_other: bool) -> Engine:
    """Route to the final engine once it is rolled out; until then to the other engine if it still serves."""
    other = Engine.TENSORRT_LLM if final is Engine.VLLM else Engine.VLLM
    final_facts, other_facts = deployments.get(final), deployments.get(other)
    if final_facts is not None and final_facts.rolled_out:
        return final
    if keep_other and other_facts is not None and other_facts.serving:
        return other
    return final


def _handover(
    final: Engine,
    final_action: Action,
    final_ready: bool,
    other_exists: bool,
    detail: str,
    mode: Mode,
    build: str | None,
    deployments: dict[Engine, DeploymentFacts | None],
    interim_allowed: bool = True,
) -> Plan:
    """The other engine is kept (or, for interim vLLM, applied) until the final engine is Ready."""
    keep_other = not final_ready and (other_exists or (final is Engine.TENSORRT_LLM and interim_allowed))
    if final is Engine.VLLM:
        other_action = Action.KEEP if keep_other and other_exists else Action.DELETE
        return Plan(final_action, other_action, None, _route(final, deployments, keep_other), mode, detail)
    vllm_action = Action.APPLY if keep_other else Action.DELETE
    return Plan(vllm_action, final_action, build, _route(final, deployments, keep_other), mode, detail)


def plan_serving(
    infd: InferenceDeployment,
    selected: Engine,
    build: BuildFacts | None,
    deployments: dict[Engine, DeploymentFacts | None],
    trtllm_blocker: str | None,
) -> Plan:
    """Decide the serving Deployments and the Service's engine from the spec and what is observed.

    `trtllm_blocker` says why TensorRT-LLM cannot serve this model at all (unsupported architecture, no GPU
    product), or is None.
    """
    vllm, trt = deployments.get(Engine.VLLM), deployments.get(Engine.TENSORRT_LLM)
    if selected is Engine.VLLM:
        ready = vllm is not None and vllm.rolled_out
        return _handover(Engine.VLLM, Action.APPLY, ready, trt is not None, "", Mode.DIRECT, None, deployments)

    spec = infd.spec.engine
    interim = spec.serve_while_building
    if trtllm_blocker is None and spec.tensorrt_llm.backend is TrtllmBackend.PYTORCH:
        ready = trt is not None and trt.rolled_out and trt.engine_build is None
        return _handover(
            Engine.TENSORRT_LLM,
            Action.APPLY,
            ready,
            vllm is not None,
            "",
            Mode.DIRECT,
            None,
            deployments,
            interim,
        )

    if trtllm_blocker is None and build is not None and build.phase is BuildPhase.SUCCEEDED:
        ready = trt is not None and trt.rolled_out and trt.engine_build == build.name
        return _handover(
            Engine.TENSORRT_LLM,
            Action.APPLY,
            ready,
            vllm is not None,
            "",
            Mode.DIRECT,
            build.name,
            deployments,
            interim,
        )

    failed = build is not None and build.phase is BuildPhase.FAILED
    if trt is not None and trt.engine_build and trt.serving and trtllm_blocker is None:
        # An engine of an earlier spec serves until the new one is built, or for good if the rebuild failed.
        detail = f"the engine build {build.name} failed: {build.message}" if failed and build else ""
        return Plan(Action.DELETE, Action.KEEP, trt.engine_build, Engine.TENSORRT_LLM, Mode.OLD_ENGINE, detail)

    if trtllm_blocker is not None or failed:
        reason = (
            trtllm_blocker or f"the engine build {build.name if build else ''} failed: {build.message if build else ''}"
        )
        if spec.fallback is Fallback.VLLM:
            ready = vllm is not None and vllm.rolled_out
            return _handover(
                Engine.VLLM, Action.APPLY, ready, trt is not None, reason, Mode.FALLBACK, None, deployments
            )
        return Plan(Action.DELETE, Action.DELETE, None, Engine.TENSORRT_LLM, Mode.UNAVAILABLE, reason)

    # The engine is compiling: vLLM serves in the meantime unless the resource opted out.
    if interim or vllm is not None:
        return Plan(Action.APPLY if interim else Action.KEEP, Action.DELETE, None, Engine.VLLM, Mode.INTERIM, "")
    return Plan(Action.DELETE, Action.DELETE, None, Engine.TENSORRT_LLM, Mode.INTERIM, "")
