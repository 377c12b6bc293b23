"""Multi-node groups: which groups are placed, which hold GPUs they cannot use, and how many to ask for. Pure.

No stranded leader: the default scheduler places a group's pods one by one, so with room for a group and a
half, the second group's leader gets a node (and its GPUs) while its workers wait for nodes that never come.
LeaderWorkerSet v0.7.0 has no gang placement of its own without a gang scheduler (its volcano provider), so the
operator frees such a group: once a group has waited `spec.multiNode.placementTimeoutSeconds` with some pods
placed and others unschedulable, the LeaderWorkerSet is scaled down to the groups that are whole (LWS removes
the highest group indices first, where new groups are), the status says why and until when, and the operator
asks for the full count again after RETRY_FACTOR times the timeout (a node may have been freed or added).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ..api.timestamps import format_time, parse_time
from ..render.multinode import GROUP_INDEX_LABEL

RETRY_FACTOR = 10
# How often the runtime looks again while groups wait or are held back (a timeout falls due without an event).
GROUP_RECHECK_SECONDS = 10


@dataclass(frozen=True)
class GroupFacts:
    """The groups of a LeaderWorkerSet as their pods show them."""

    whole: int  # groups with every pod placed on a node
    stranded: int  # groups with pods placed while others are unschedulable for longer than the timeout
    waiting: str | None  # the scheduler's message for the first unschedulable pod of a partly placed group
    # Groups whose every pod is Ready. LWS v0.7.0 counts a group ready once its leader is Ready and its worker
    # StatefulSet has created its pods, Ready or not (pkg/utils/statefulset StatefulsetReady compares only
    # spec.replicas with status.replicas), so a group whose worker cannot be scheduled counts as ready there.
    ready: int = 0


def _unschedulable_since(pod: dict[str, Any]) -> tuple[datetime.datetime | None, str] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        waiting = cond.get("type") == "PodScheduled" and cond.get("status") == "False"
        if waiting and cond.get("reason") == "Unschedulable":
            message = str(cond.get("message") or "the scheduler found no node that fits")
            return parse_time(cond.get("lastTransitionTime")), message
    return None


def _groups(pods: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The pods (not being deleted) by group index, in index order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        index = (meta.get("labels") or {}).get(GROUP_INDEX_LABEL)
        if index is not None and not meta.get("deletionTimestamp"):
            groups.setdefault(str(index), []).append(pod)
    return [groups[i] for i in sorted(groups, key=lambda i: int(i) if i.isdigit() else 0)]


def _stranded_for(members: list[dict[str, Any]], moment: datetime.datetime | None) -> tuple[float, str] | None:
    """(seconds waited, the scheduler's message) of a group with pods placed and others unschedulable."""
    pending = [u for u in (_unschedulable_since(p) for p in members) if u is not None]
    if not pending or not any((p.get("spec") or {}).get("nodeName") for p in members):
        return None  # its pods are on their way to a node, or it holds nothing yet
    since = min((s for s, _ in pending if s is not None), default=None)
    waited = (moment - since).total_seconds() if since is not None and moment is not None else 0.0
    return waited, pending[0][1]


def group_facts(pods: list[dict[str, Any]], size: int, now: str, timeout_seconds: int) -> GroupFacts:
    """Placed, stranded and waiting groups from the pods of one LeaderWorkerSet (leaders and workers)."""
    moment = parse_time(now)
    whole = stranded = ready = 0
    waiting = None
    for members in _groups(pods):
        if sum(1 for p in members if (p.get("spec") or {}).get("nodeName")) >= size:
            whole += 1
            ready += all(_ready(p) for p in members)
            continue
        found = _stranded_for(members, moment)
        if found is not None:
            waiting = waiting or found[1]
            stranded += found[0] >= timeout_seconds
    return GroupFacts(whole, stranded, waiting, ready)


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@dataclass(frozen=True)
class GroupPlan:
    """The LeaderWorkerSet replicas to apply, and the hold-back to record in status.groups (None: none)."""

    replicas: int
    held_back: dict[str, Any] | None
    facts: GroupFacts | None = None  # the groups as their pods showed them


def plan_groups(
    wanted: int, facts: GroupFacts | None, previous: dict[str, Any] | None, now: str, timeout_seconds: int
) -> GroupPlan:
    """Ask for `wanted` groups, except while groups that could not be placed are held back (see the module)."""
    held = (previous or {}).get("heldBack") or None
    moment = parse_time(now)
    if held and int(held.get("wanted", 0)) == wanted:
        retry_at = parse_time(held.get("retryAt"))
        if moment is not None and retry_at is not None and moment < retry_at:
            return GroupPlan(min(wanted, int(held.get("replicas", wanted))), dict(held), facts)
    if facts is None or not facts.stranded or moment is None:
        return GroupPlan(wanted, None, facts)
    replicas = min(wanted, facts.whole)
    retry = moment + datetime.timedelta(seconds=RETRY_FACTOR * timeout_seconds)
    record = {
        "wanted": wanted,
        "replicas": replicas,
        "since": now,
        "retryAt": format_time(retry),
        "reason": facts.waiting or "the scheduler found no node that fits",
    }
    return GroupPlan(replicas, record, facts)


def held_back_message(held: dict[str, Any], timeout_seconds: int) -> str:
    """The status sentence of a hold-back: how many groups wait, why, that they hold no GPUs, and until when."""
    missing = int(held["wanted"]) - int(held["replicas"])
    groups = "group" if missing == 1 else "groups"
    return (
        f"{missing} of {held['wanted']} {groups} could not be placed whole: {held['reason']}. After "
        f"{timeout_seconds}s (spec.multiNode.placementTimeoutSeconds) {'it was' if missing == 1 else 'they were'} "
        f"removed so that no GPUs are held by a half-placed group; the operator tries again at {held['retryAt']}."
    )
