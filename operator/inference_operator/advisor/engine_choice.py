"""The engine a resource gets: its explicit preference, or the advisor's decision for `auto`, with the figures."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..api.inference_deployment import Engine, EnginePreference, EngineStatus, InferenceDeployment
from ..api.settings import DecisionSettings
from .architectures import architecture_from_name, trtllm_supports
from .decision import decide, decision_inputs_from

EXPLICIT = "Explicit"


@dataclass(frozen=True)
class EngineChoice:
    selected: Engine
    reason: str
    reason_code: str
    status: EngineStatus  # status.engine without `active`, which only the observed Service can tell


def choose_engine(
    infd: InferenceDeployment, settings: DecisionSettings, previous: dict[str, Any] | None = None
) -> EngineChoice:
    """Explicit preferences are obeyed; `auto` follows the advisor. Costs are reported either way.

    The choice is sticky by construction: it is a pure function of inputs whose hash is recorded, so a re-read
    with the same inputs gives the same engine; `previous` with the same hash keeps its engine even across an
    operator upgrade that changed the rules' tables, until an input changes.
    """
    decision = decide(decision_inputs_from(infd, settings))
    preference = infd.spec.engine.preference
    digest = hashlib.sha256(f"{preference.value}/{decision.decision_hash}".encode()).hexdigest()[:16]
    if preference is EnginePreference.AUTO:
        selected, reason, code = decision.selected, decision.reason, decision.reason_code.value
        prev = previous or {}
        if prev.get("decisionHash") == digest and prev.get("selected") in {e.value for e in Engine}:
            selected, reason = Engine(prev["selected"]), str(prev.get("reason") or reason)
    else:
        selected = Engine(preference.value)
        reason, code = f"spec.engine.preference is {preference.value}", EXPLICIT
    status = decision.to_engine_status().model_copy(
        update={"selected": selected, "reason": reason, "decision_hash": digest, "active": None}
    )
    return EngineChoice(selected=selected, reason=reason, reason_code=code, status=status)


def trtllm_blocker(infd: InferenceDeployment) -> str | None:
    """Why TensorRT-LLM cannot serve this model at all, or None. An unknown architecture is given the benefit
    of the doubt when the user asked for TensorRT-LLM explicitly: the build will tell."""
    backend = infd.spec.engine.tensorrt_llm.effective_backend
    architecture = infd.spec.model.architecture or architecture_from_name(infd.spec.model.name)
    if architecture is not None and not trtllm_supports(architecture, backend):
        return (
            f"TensorRT-LLM ({backend.value} backend) does not support the architecture {architecture} "
            "(spec.model.architecture)"
        )
    return None
