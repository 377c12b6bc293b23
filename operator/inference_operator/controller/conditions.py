"""Kubernetes-shaped conditions and the status comparison both kinds use. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cond:
    """A condition before timestamps are attached."""

    type: str
    status: bool | None  # None: Unknown
    reason: str
    message: str


def merge_conditions(
    previous: list[dict[str, Any]], new: list[Cond], generation: int, now: str
) -> list[dict[str, Any]]:
    """Kubernetes-shaped conditions; lastTransitionTime moves only when a condition's status changes."""
    before = {c.get("type"): c for c in previous}
    out = []
    for cond in new:
        status = "Unknown" if cond.status is None else ("True" if cond.status else "False")
        old = before.get(cond.type)
        since = (
            old["lastTransitionTime"] if old and old.get("status") == status and "lastTransitionTime" in old else now
        )
        out.append(
            {
                "type": cond.type,
                "status": status,
                "reason": cond.reason,
                "message": cond.message,
                "lastTransitionTime": since,
                "observedGeneration": generation,
            }
        )
    return out


def status_changed(previous: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether writing `new` would change anything the operator owns (kopf's own bookkeeping is ignored)."""
    return any(previous.get(key) != value for key, value in new.items()) or any(
        key not in new for key in previous if key not in ("kopf",)
    )
