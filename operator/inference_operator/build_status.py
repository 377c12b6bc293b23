"""Status of an EngineBuild: a pure function of its build Job as observed."""

from __future__ import annotations

import datetime
from typing import Any

from .api.engine_build import BuildPhase, EngineBuild
from .status import Cond, merge_conditions


def _parse(ts: str | None) -> datetime.datetime | None:
    if not ts:
        return None
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def _job_failure(job: dict[str, Any]) -> tuple[str, str] | None:
    """(reason, message) of a Job that failed for good: BackoffLimitExceeded, DeadlineExceeded, ..."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Failed" and cond.get("status") == "True":
            return str(cond.get("reason") or "Failed"), str(cond.get("message") or "")
    return None


def _job_complete(job: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Complete" and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def compute_build_status(
    build: EngineBuild,
    job: dict[str, Any] | None,
    job_name: str,
    engine_path: str,
    previous: dict[str, Any],
    now: str,
) -> dict[str, Any]:
    """Phase, times and message of a build. A finished result is final: it never goes back to Building."""
    generation = int(build.metadata.get("generation", 0))
    if job is None and previous.get("phase") in (BuildPhase.SUCCEEDED.value, BuildPhase.FAILED.value):
        # The Job was cleaned up after its result was recorded: the result stands.
        return {k: v for k, v in previous.items() if k != "kopf"}
    status: dict[str, Any] = {"observedGeneration": generation, "jobName": job_name}
    job_status = (job or {}).get("status") or {}
    started = job_status.get("startTime")
    finished = job_status.get("completionTime")
    status["attempts"] = (
        int(job_status.get("failed", 0)) + int(job_status.get("succeeded", 0)) + int(job_status.get("active", 0))
    )
    if started:
        status["startTime"] = started
    failure = _job_failure(job) if job else None
    if job is None:
        phase, message = BuildPhase.PENDING, "Creating the build Job."
        cond = Cond("Succeeded", None, "Pending", message)
    elif _job_complete(job):
        phase = BuildPhase.SUCCEEDED
        message = f"Engine written to {engine_path}."
        status["enginePath"] = engine_path
        cond = Cond("Succeeded", True, "EngineBuilt", message)
    elif failure is not None:
        phase = BuildPhase.FAILED
        reason, detail = failure
        message = f"Build Job {job_name} failed ({reason}): {detail or 'see the Job pods logs'}."
        finished = finished or _last_condition_time(job)
        cond = Cond("Succeeded", False, reason, message)
    elif int(job_status.get("active", 0)) > 0 or started:
        phase = BuildPhase.BUILDING
        message = f"Build Job {job_name} is compiling (attempt {max(1, status['attempts'])})."
        cond = Cond("Succeeded", None, "Building", message)
    else:
        phase, message = BuildPhase.PENDING, f"Build Job {job_name} waits for a GPU node."
        cond = Cond("Succeeded", None, "Pending", message)
    status["phase"] = phase.value
    status["message"] = message
    if finished and phase in (BuildPhase.SUCCEEDED, BuildPhase.FAILED):
        status["completionTime"] = finished
        begin, end = _parse(started), _parse(finished)
        if begin and end:
            status["durationSeconds"] = max(0, int((end - begin).total_seconds()))
    status["conditions"] = merge_conditions(previous.get("conditions") or [], [cond], generation, now)
    return status


def _last_condition_time(job: dict[str, Any]) -> str | None:
    times = [c.get("lastTransitionTime") for c in (job.get("status") or {}).get("conditions") or []]
    found = [t for t in times if t]
    return max(found) if found else None
