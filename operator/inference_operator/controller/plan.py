"""Which serving Deployments should exist and which engine the Service routes to. Pure.

The rule that makes cut-overs safe: the Service moves to an engine only once that engine's Deployment has
rolled out and is Ready, and the other engine's Deployment goes only after that. So at no moment is there no
ready endpoint, whether vLLM hands over to a freshly built TensorRT-LLM engine, an old engine hands over to a
rebuilt one, or a resource is switched back to vLLM.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from ..api.engine_build import BuildPhase
from ..api.inference_deployment import Engine, Fallback, InferenceDeployment, RolloutStrategy, TrtllmBackend
from .facts import BuildFacts, DeploymentFacts


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
    vllm_build: str | None = None  # quantization EngineBuild whose checkpoint the applied vLLM Deployment serves


def _onto_vllm(deployments: dict[Engine, DeploymentFacts | None], mode: Mode, detail: str) -> Plan:
    """vLLM serves in the end; a TensorRT-LLM Deployment that serves is kept, and routed to, until vLLM is Ready."""
    vllm, trt = deployments.get(Engine.VLLM), deployments.get(Engine.TENSORRT_LLM)
    ready = vllm is not None and vllm.rolled_out
    keep_trt = not ready and trt is not None
    route = Engine.TENSORRT_LLM if keep_trt and trt is not None and trt.serving else Engine.VLLM
    return Plan(Action.APPLY, Action.KEEP if keep_trt else Action.DELETE, None, route, mode, detail)


def _onto_trtllm(
    infd: InferenceDeployment, target: str | None, deployments: dict[Engine, DeploymentFacts | None]
) -> Plan:
    """TensorRT-LLM serves `target` (an EngineBuild; None for the PyTorch backend) in the end, with no gap.

    vLLM bridges only while no TensorRT-LLM pod serves: a RollingUpdate keeps the pods of the previous engine
    (or of the previous spec) until the new ones are Ready, so a rebuild or a replicas/env change starts no vLLM.
    A Recreate stops them first, so vLLM comes up, takes the traffic, and only then does the Deployment move on.
    With the engine already built (a cache hit) and nothing serving yet, no vLLM is started: there is no compile
    to wait for, and a vLLM load would take as long as the engine's.
    """
    vllm, trt = deployments.get(Engine.VLLM), deployments.get(Engine.TENSORRT_LLM)
    if trt is not None and trt.rolled_out and trt.engine_build == target:
        return Plan(Action.DELETE, Action.APPLY, target, Engine.TENSORRT_LLM, Mode.DIRECT, "")
    interim = infd.spec.engine.serve_while_building
    trt_serves = trt is not None and trt.serving
    recreate = infd.spec.serving.rollout.strategy is RolloutStrategy.RECREATE
    if trt is not None and trt_serves and trt.engine_build != target and recreate and interim:
        if vllm is None or not vllm.rolled_out:
            return Plan(Action.APPLY, Action.KEEP, trt.engine_build, Engine.TENSORRT_LLM, Mode.DIRECT, "")
        return Plan(Action.APPLY, Action.APPLY, target, Engine.VLLM, Mode.DIRECT, "")
    bridge = vllm is not None
    route = Engine.VLLM if bridge and vllm is not None and vllm.serving else Engine.TENSORRT_LLM
    return Plan(Action.APPLY if bridge else Action.DELETE, Action.APPLY, target, route, Mode.DIRECT, "")


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
    if selected is Engine.VLLM:
        if build is not None:
            return _vllm_quantized(infd, build, deployments)
        return _onto_vllm(deployments, Mode.DIRECT, "")
    if trtllm_blocker is not None:
        return _cannot_serve(infd, deployments, trtllm_blocker)
    return _plan_trtllm(infd, build, deployments)


def _build_failure(build: BuildFacts | None) -> str | None:
    if build is not None and build.phase is BuildPhase.FAILED:
        return f"the build {build.name} failed: {build.message}"
    return None


def _plan_trtllm(
    infd: InferenceDeployment, build: BuildFacts | None, deployments: dict[Engine, DeploymentFacts | None]
) -> Plan:
    """TensorRT-LLM can serve this model: serve it once its engine is there, bridge until then."""
    if build is None and infd.spec.engine.tensorrt_llm.effective_backend is TrtllmBackend.PYTORCH:
        return _onto_trtllm(infd, None, deployments)
    if build is not None and build.phase is BuildPhase.SUCCEEDED:
        return _onto_trtllm(infd, build.name, deployments)
    failure = _build_failure(build)
    trt = deployments.get(Engine.TENSORRT_LLM)
    if trt is not None and trt.engine_build and trt.serving:
        # An engine of an earlier spec serves until the new one is built, or for good if the rebuild failed.
        return Plan(Action.DELETE, Action.KEEP, trt.engine_build, Engine.TENSORRT_LLM, Mode.OLD_ENGINE, failure or "")
    if failure is not None:
        return _cannot_serve(infd, deployments, failure)
    return _while_compiling(infd, deployments)


def _cannot_serve(infd: InferenceDeployment, deployments: dict[Engine, DeploymentFacts | None], reason: str) -> Plan:
    """TensorRT-LLM cannot serve: vLLM does if the resource allows a fallback, else nothing does."""
    if infd.spec.engine.fallback is Fallback.VLLM:
        return _onto_vllm(deployments, Mode.FALLBACK, reason)
    return Plan(Action.DELETE, Action.DELETE, None, Engine.TENSORRT_LLM, Mode.UNAVAILABLE, reason)


def _while_compiling(infd: InferenceDeployment, deployments: dict[Engine, DeploymentFacts | None]) -> Plan:
    """The engine is compiling: vLLM serves in the meantime unless the resource opted out."""
    interim = infd.spec.engine.serve_while_building
    if interim or deployments.get(Engine.VLLM) is not None:
        return Plan(Action.APPLY if interim else Action.KEEP, Action.DELETE, None, Engine.VLLM, Mode.INTERIM, "")
    return Plan(Action.DELETE, Action.DELETE, None, Engine.TENSORRT_LLM, Mode.INTERIM, "")


def _vllm_quantized(
    infd: InferenceDeployment, build: BuildFacts, deployments: dict[Engine, DeploymentFacts | None]
) -> Plan:
    """vLLM serving a quantized checkpoint (issue 16 §2): the unquantized model serves until it is ready.

    The cut-over is the vLLM Deployment's own rollout onto the checkpoint: with RollingUpdate (the default) the
    unquantized pods serve until the quantized ones are Ready, so there is no gap. A failed quantization leaves
    the unquantized model serving (engine.fallback: vllm), as a failed engine build leaves vLLM serving.
    """
    if build.phase is BuildPhase.SUCCEEDED:
        plan = _onto_vllm(deployments, Mode.DIRECT, "")
        return dataclasses.replace(plan, vllm_build=build.name)
    vllm = deployments.get(Engine.VLLM)
    if vllm is not None and vllm.engine_build and vllm.serving:
        # A checkpoint of an earlier spec serves until the new one is ready.
        plan = _onto_vllm(deployments, Mode.OLD_ENGINE, _build_failure(build) or "")
        return dataclasses.replace(plan, vllm=Action.KEEP, vllm_build=vllm.engine_build)
    failure = _build_failure(build)
    if failure is not None:
        if infd.spec.engine.fallback is Fallback.VLLM:
            return _onto_vllm(deployments, Mode.FALLBACK, failure)
        return Plan(Action.DELETE, Action.DELETE, None, Engine.VLLM, Mode.UNAVAILABLE, failure)
    return _onto_vllm(deployments, Mode.INTERIM, "")
