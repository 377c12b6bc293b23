"""Which consumers of a resource read its weight cache entry, what a build waiting for it says, and the resource's
status.weights, WeightsCached condition and Events. Pure.

Every consumer that would otherwise fetch the checkpoint from the Hub reads a complete entry instead: vLLM (one
pod or a group), TensorRT-LLM's PyTorch backend (one pod or a group), and the build Job of an EngineBuild
(engine or quantization build). The engine backend serves a compiled engine from the store and reads no entry.
"""

from __future__ import annotations

import copy
from typing import Any

from ...api.engine_build import BuildPhase
from ...api.inference_deployment import Engine, InferenceDeployment
from ...api.weight_cache import CachePhase, ResolveOutcome
from ...render.trtllm import reads_weight_cache
from ..conditions import Cond
from .revision import Resolution

# The Succeeded condition's reason of an EngineBuild not created yet because its entry is not complete.
WAITING_FOR_WEIGHTS = "WaitingForWeights"


def serving_reads_weights(infd: InferenceDeployment, engine: Engine) -> bool:
    """Whether this engine's serving pods load the checkpoint (so wait for the entry rather than download)."""
    return engine is Engine.VLLM or reads_weight_cache(infd)


def entry_phase(entry: dict[str, Any] | None) -> str:
    return str(((entry or {}).get("status") or {}).get("phase") or CachePhase.PENDING.value)


def build_waits_for_weights(build: dict[str, Any], entry: dict[str, Any] | None) -> bool:
    """An EngineBuild reading a weight cache entry is created only once the entry is Complete: before, its Job
    would find no checkpoint (and downloading it instead is what the entry is for)."""
    return bool(build["spec"].get("weightCache")) and entry_phase(entry) != CachePhase.COMPLETE.value


def waiting_build(build: dict[str, Any], entry: dict[str, Any] | None, unresolved: str | None = None) -> dict[str, Any]:
    """The EngineBuild as the status shows it while it waits for its entry (not created yet): Pending, and why;
    `unresolved`: why no entry can be named yet (the revision refused, or not resolved)."""
    if unresolved is not None:
        message = f"Waiting for spec.model.revision before building: {unresolved}"
    else:
        name = build["spec"]["weightCache"]
        phase = entry_phase(entry)
        detail = ((entry or {}).get("status") or {}).get("message")
        message = f"Waiting for weight cache entry {name} ({phase}{': ' + detail if detail else ''}) before building"
    shown = copy.deepcopy(build)
    shown["status"] = {
        "phase": BuildPhase.PENDING.value,
        "message": message,
        "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": WAITING_FOR_WEIGHTS, "message": message}],
    }
    return shown


RESOLVING = "Resolving"


def weights_status(
    wanted: dict[str, Any] | None, observed: dict[str, Any] | None, resolution: Resolution | None = None
) -> dict[str, Any]:
    """status.weights: the entry, its phase and what it says (Downloading, Complete, or why it failed), and the
    revision as resolved (pinned: resolved once). No entry while the revision is refused (Failed, with the
    reason) or the Hub does not answer (Pending, Resolving)."""
    pin = resolution.to_status() if resolution is not None else None
    if wanted is None:
        assert resolution is not None, "an entry is wanted unless the revision holds it back"
        out: dict[str, Any] = {
            "phase": CachePhase.FAILED.value if resolution.refused else CachePhase.PENDING.value,
            "reason": resolution.outcome.value if resolution.outcome is not None else RESOLVING,
            "message": resolution.message,
        }
        return out | ({"resolved": pin} if pin else {})
    status = (observed or {}).get("status") or {}
    out = {
        "entry": wanted["metadata"]["name"],
        "phase": status.get("phase") or "Pending",
        "message": status.get("message") or "Waiting for the weight cache entry's download Job",
    }
    if resolution is not None and resolution.outcome is ResolveOutcome.AS_WRITTEN and resolution.message:
        out["message"] = f"{out['message']}; {resolution.message}"
    if status.get("reason"):
        out["reason"] = status["reason"]
    out |= {k: status[k] for k in ("bytesDone", "bytesTotal") if isinstance(status.get(k), int)}
    return out | ({"resolved": pin} if pin else {})


WEIGHTS_CACHED = "WeightsCached"


def weights_condition(weights: dict[str, Any]) -> Cond:
    """The resource's WeightsCached condition: True once its entry is complete, False with the cause (the
    revision's: RevisionNotFound, ModelNotFound; the download's: SourceUnreadable, VolumeFull, ...), Unknown
    meanwhile (Resolving while the Hub does not answer). A failure leaves what serves serving: Ready says that,
    this says why the new weights are not there."""
    phase, message = weights["phase"], str(weights["message"])
    if phase == "Complete":
        return Cond(WEIGHTS_CACHED, True, "Cached", f"Weight cache entry {weights['entry']}: {message}")
    if phase == "Failed":
        return Cond(WEIGHTS_CACHED, False, str(weights.get("reason") or "WeightCacheFailed"), message)
    return Cond(WEIGHTS_CACHED, None, str(weights.get("reason") or phase), message)


def _moment(weights: dict[str, Any]) -> tuple[Any, ...]:
    return weights.get("phase"), weights.get("entry"), (weights.get("resolved") or {}).get("revision")


def weights_events(previous: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events for a change of status.weights: a failure (Warning, its reason) and
    serving from an entry; none while it resolves or downloads."""
    if not new or _moment(previous) == _moment(new):
        return []
    if new["phase"] == "Failed":
        return [("Warning", str(new.get("reason") or "WeightCacheFailed"), str(new["message"]))]
    if new["phase"] == "Complete":
        return [("Normal", "WeightsCached", f"Serving from weight cache entry {new['entry']}")]
    return []
