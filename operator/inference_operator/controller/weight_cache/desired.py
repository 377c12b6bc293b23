"""The desired state of one WeightCache entry: its PVC and Job, its status, and which unused entries to evict. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ...api import quantity
from ...api.engine_build import BuildPhase
from ...api.errors import InvalidSpec
from ...api.validation import format_validation_error
from ...api.weight_cache import CachePhase, WeightCache
from ...render.weight_cache import LABEL_WEIGHT_CACHE, claim_name, job_name, serving_model_path
from ...render.weight_download import EXIT_REASONS
from ..conditions import Cond, merge_conditions, status_changed

KIND = "WeightCache"
FINISHED = (CachePhase.COMPLETE.value, CachePhase.FAILED.value)
COMPLETE_CONDITION = "Complete"
VOLUME_FULL = "VolumeFull"


def parse(body: dict[str, Any]) -> WeightCache:
    try:
        return WeightCache.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError as exc:
        raise InvalidSpec(format_validation_error(exc)) from None


def _job_condition(job: dict[str, Any] | None, kind: str) -> bool:
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def exit_code(pods: list[dict[str, Any]]) -> int | None:
    """The exit code of the newest terminated download container, if any."""
    codes = []
    for pod in sorted(pods, key=lambda p: str(p["metadata"].get("creationTimestamp") or "")):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
            if terminated and terminated.get("exitCode") is not None:
                codes.append(int(terminated["exitCode"]))
    return codes[-1] if codes else None


def _running(pods: list[dict[str, Any]]) -> bool:
    return any((p.get("status") or {}).get("phase") == "Running" for p in pods)


def megabytes(done: int, total: int | None) -> str:
    return f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"


def _bytes(previous: dict[str, Any], progress: dict[str, Any] | None) -> dict[str, Any]:
    """bytesDone / bytesTotal / commit: the pod's latest answer over the previous status (which it never lowers)."""
    out = {k: previous[k] for k in ("bytesDone", "bytesTotal", "commit") if previous.get(k) is not None}
    return out | {k: v for k, v in (progress or {}).items() if v is not None}


def compute_status(
    entry: WeightCache,
    job: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    previous: dict[str, Any],
    now: str,
    progress: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The entry's status from its Job, the Job's pods and the pod's progress; a finished result is kept."""
    name, spec = entry.metadata["name"], entry.spec
    what = f"{spec.model}@{spec.revision} from {spec.source}"
    if previous.get("phase") in FINISHED:
        return dict(previous)
    reason: str | None = None
    if _job_condition(job, "Complete"):
        phase, cond, message = (
            CachePhase.COMPLETE,
            Cond(COMPLETE_CONDITION, True, "Downloaded", f"{what} is cached"),
            f"{what} is cached",
        )
    elif _job_condition(job, "Failed"):
        code = exit_code(pods)
        reason, meaning = EXIT_REASONS.get(
            code or -1, ("DownloadFailed", f"the download Job failed (exit code {code})")
        )
        if reason == VOLUME_FULL:
            meaning = f"{meaning} (now {spec.size})"
        message = f"Downloading {what} failed: {meaning}; see the logs of Job {job_name(name)}"
        phase, cond = CachePhase.FAILED, Cond(COMPLETE_CONDITION, False, reason, message)
    elif job is not None and _running(pods):
        counted = _bytes(previous, progress)
        done = f", {megabytes(counted['bytesDone'], counted.get('bytesTotal'))}" if "bytesDone" in counted else ""
        message = f"Downloading {what}{done} (Job {job_name(name)})"
        phase, cond = CachePhase.DOWNLOADING, Cond(COMPLETE_CONDITION, False, "Downloading", message)
    else:
        message = f"Waiting for the download Job {job_name(name)} of {what} to start"
        phase, cond = CachePhase.PENDING, Cond(COMPLETE_CONDITION, False, "Pending", message)
    status: dict[str, Any] = {
        "phase": phase.value,
        "claimName": claim_name(name),
        "jobName": job_name(name),
        "path": serving_model_path(),
        "message": message,
        "conditions": merge_conditions(
            previous.get("conditions") or [], [cond], int(entry.metadata.get("generation", 0)), now
        ),
    }
    status |= _bytes(previous, progress)
    if reason:
        status["reason"] = reason
    if phase is CachePhase.COMPLETE:
        status["completionTime"] = now
    return status


@dataclass(frozen=True)
class EntryUpdate:
    status: dict[str, Any]
    changed: bool
    event: tuple[str, str, str] | None


def entry_update(
    entry: WeightCache,
    job: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    previous: dict[str, Any],
    now: str,
    progress: dict[str, Any] | None = None,
) -> EntryUpdate:
    status = compute_status(entry, job, pods, previous, now, progress)
    changed = status_changed(previous, status)
    event = None
    if changed and previous.get("phase") != status["phase"]:
        kind = "Warning" if status["phase"] == CachePhase.FAILED.value else "Normal"
        event = (kind, status.get("reason") or f"Weights{status['phase']}", str(status["message"]))
    return EntryUpdate(status, changed, event)


def _pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod templates of a Deployment or Job (spec.template) or a LeaderWorkerSet (leader and worker)."""
    spec = obj.get("spec") or {}
    group = spec.get("leaderWorkerTemplate") or {}
    return [t for t in (spec.get("template"), group.get("leaderTemplate"), group.get("workerTemplate")) if t]


def _finished(obj: dict[str, Any]) -> bool:
    """A Job whose pods are done, or an EngineBuild that succeeded or failed: it reads no entry any more."""
    if obj.get("kind") == "EngineBuild":
        return str((obj.get("status") or {}).get("phase")) in (BuildPhase.SUCCEEDED.value, BuildPhase.FAILED.value)
    return obj.get("kind") == "Job" and (_job_condition(obj, "Complete") or _job_condition(obj, "Failed"))


def mounted_entries(obj: dict[str, Any], claims: dict[str, str]) -> set[str]:
    """The entries a live consumer mounts: named by the weight-cache label (on it or its pod templates), by an
    entry's claim among its pod templates' volumes, or by an EngineBuild's spec.weightCache. `claims`: claim
    name -> entry name. A finished Job or EngineBuild mounts none."""
    if _finished(obj):
        return set()
    found = set()
    if obj.get("kind") == "EngineBuild" and (obj.get("spec") or {}).get("weightCache"):
        found.add(str(obj["spec"]["weightCache"]))
    templates = _pod_templates(obj)
    for meta in [obj.get("metadata") or {}, *(t.get("metadata") or {} for t in templates)]:
        if (meta.get("labels") or {}).get(LABEL_WEIGHT_CACHE):
            found.add(str(meta["labels"][LABEL_WEIGHT_CACHE]))
    for template in templates:
        for volume in (template.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim in claims:
                found.add(claims[claim])
    return found


def entries_in_use(wanted: set[str], consumers: list[dict[str, Any]], entries: list[str]) -> set[str]:
    """Entries a resource's spec asks for now, or a live consumer mounts: a serving Deployment or LeaderWorkerSet
    (running or rolling out), a build or quantization Job still running (its resource may be gone), an EngineBuild
    not finished (its Job may not exist yet). `entries`: the names of the namespace's entries."""
    claims = {claim_name(e): e for e in entries}
    used = set(wanted)
    for obj in consumers:
        used |= mounted_entries(obj, claims)
    return used


def evictions(entries: list[dict[str, Any]], in_use: set[str], budget: str | None) -> list[dict[str, Any]]:
    """Unused entries to delete, oldest first, until the namespace's entries fit the budget (None: never)."""
    if budget is None:
        return []
    limit = quantity.to_bytes(budget)
    total = sum(quantity.to_bytes(e["spec"]["size"]) for e in entries)
    out = []
    oldest_first = sorted(
        entries, key=lambda e: (str(e["metadata"].get("creationTimestamp") or ""), e["metadata"]["name"])
    )
    for e in oldest_first:
        if total <= limit:
            break
        if e["metadata"]["name"] in in_use:
            continue
        out.append(e)
        total -= quantity.to_bytes(e["spec"]["size"])
    return out


def eviction_message(evicted: dict[str, Any], budget: str) -> str:
    spec = evicted["spec"]
    return (
        f"Evicted weight cache entry {evicted['metadata']['name']} ({spec['model']}@{spec['revision']} from "
        f"{spec['source']}, {spec['size']}): unused, and the namespace's entries exceeded the budget of {budget}"
    )
