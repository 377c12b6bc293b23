"""A pod's phase, conditions and container statuses from its containers' states, as the kubelet computes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent.container import Container, now_iso


def phase(init: Sequence[Container], main: Sequence[Container], policy: str) -> str:
    for c in init:
        if c.done and c.state.get("terminated", {}).get("exitCode", 0) != 0:
            return "Failed"
    if not all(c.done for c in init):
        return "Pending"
    if all(c.done for c in main):
        codes = [c.state.get("terminated", {}).get("exitCode", 0) for c in main]
        return "Succeeded" if all(code == 0 for code in codes) else "Failed"
    if any(c.running or c.restart_count or "terminated" in c.state for c in main):
        return "Running"
    return "Pending"


def _names(containers: Sequence[Container]) -> str:
    return " ".join(c.name for c in containers)


def conditions(init: Sequence[Container], main: Sequence[Container], pod_phase: str) -> dict[str, tuple[str, str, str]]:
    """type -> (status, reason, message)."""
    out = {"PodScheduled": ("True", "", "")}
    pending_init = [c for c in init if not c.done]
    if pending_init:
        message = f"containers with incomplete status: [{_names(pending_init)}]"
        out["Initialized"] = ("False", "ContainersNotInitialized", message)
    else:
        out["Initialized"] = ("True", "", "")
    unready = [c for c in main if not c.ready]
    if pod_phase in ("Succeeded", "Failed"):
        ready = ("False", "PodCompleted", "")
    elif unready:
        ready = ("False", "ContainersNotReady", f"containers with unready status: [{_names(unready)}]")
    else:
        ready = ("True", "", "")
    out["ContainersReady"] = ready
    out["Ready"] = ready
    return out


def merge_conditions(
    previous: dict[str, dict[str, Any]], now: Mapping[str, tuple[str, str, str]]
) -> dict[str, dict[str, Any]]:
    """lastTransitionTime changes only when a condition's status does."""
    out = {}
    for ctype, (status, reason, message) in now.items():
        before = previous.get(ctype)
        since = before["lastTransitionTime"] if before and before["status"] == status else now_iso()
        cond: dict[str, Any] = {"type": ctype, "status": status, "lastTransitionTime": since, "lastProbeTime": None}
        if reason:
            cond["reason"] = reason
        if message:
            cond["message"] = message
        out[ctype] = cond
    return out


def container_statuses(containers: Sequence[Container]) -> list[dict[str, Any]]:
    return [c.status(str(c.spec["image"])) for c in containers]


def waiting_reason(containers: Sequence[Container], setup_message: str) -> None:
    """While the sandbox is not up, every container waits in ContainerCreating (PodInitializing for init)."""
    for c in containers:
        reason = c.state.get("waiting", {}).get("reason")
        if not c.running and reason in ("ContainerCreating", "PodInitializing"):
            c.wait("PodInitializing" if c.init else "ContainerCreating", setup_message)
