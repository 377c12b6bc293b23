"""Which consumers of a resource read its weight cache entry, and what a build waiting for the entry says. Pure.

Every consumer that would otherwise fetch the checkpoint from the Hub reads a complete entry instead: vLLM (one
pod or a group), TensorRT-LLM's PyTorch backend (one pod or a group), and the build Job of an EngineBuild
(engine or quantization build). The engine backend serves a compiled engine from the store and reads no entry.
"""

from __future__ import annotations

import copy
from typing import Any

from ...api.engine_build import BuildPhase
from ...api.inference_deployment import Engine, InferenceDeployment
from ...api.weight_cache import CachePhase
from ...render.trtllm import reads_weight_cache

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


def waiting_build(build: dict[str, Any], entry: dict[str, Any] | None) -> dict[str, Any]:
    """The EngineBuild as the status shows it while it waits for its entry (not created yet): Pending, and why."""
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
