"""Status of an EngineBuild: a pure function of its build Job as observed."""

from __future__ import annotations

from typing import Any

from ...api.engine_build import NO_NODE_WITH_GPU_PRODUCT, BuildPhase, EngineBuild
from ...api.labels import GPU_PRODUCT_LABEL
from ...api.timestamps import format_duration, parse_time
from ..conditions import Cond, merge_conditions
from ..facts import BuildPodFacts

FINISHED = (BuildPhase.SUCCEEDED.value, BuildPhase.FAILED.value)
SUCCEEDED = "Succeeded"


def kstatus_conditions(succeeded: Cond) -> list[Cond]:
    """Succeeded, then Ready, Reconciling and Stalled as kstatus (cli-utils v0.37.2) reads them: a build in
    progress is Reconciling (InProgress), a failed one is Stalled (Failed: only a new spec builds again), a built
    engine is Ready (Current)."""
    reason, message = succeeded.reason, succeeded.message
    running = succeeded.status is None
    return [
        succeeded,
        Cond("Ready", succeeded.status is True, reason, message),
        Cond("Reconciling", running, reason, message),
        Cond("Stalled", True, reason, message)
        if succeeded.status is False
        else Cond("Stalled", False, "AsExpected", ""),
    ]


def _recorded(previous: dict[str, Any], generation: int, now: str) -> dict[str, Any]:
    """The recorded result of a build whose Job is gone (its TTL ran out): it stands, with every condition."""
    status = {k: v for k, v in previous.items() if k != "kopf"}
    conditions = previous.get("conditions") or []
    held = next((c for c in conditions if c.get("type") == SUCCEEDED), None)
    if held is None:  # a status written by hand or by a much older operator: the phase alone says it
        ok = previous.get("phase") == BuildPhase.SUCCEEDED.value
        held = {"status": "True" if ok else "False", "reason": "EngineBuilt" if ok else "BuildFailed"}
    cond = Cond(
        SUCCEEDED,
        held.get("status") == "True",
        str(held.get("reason") or ""),
        str(held.get("message") or previous.get("message") or ""),
    )
    status["conditions"] = merge_conditions(conditions, kstatus_conditions(cond), generation, now)
    return status


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


def _attempts(job_status: dict[str, Any]) -> int:
    return int(job_status.get("failed", 0)) + int(job_status.get("succeeded", 0)) + int(job_status.get("active", 0))


def _waiting_phase(job_name: str, pod: BuildPodFacts | None, attempts: int) -> tuple[BuildPhase, str, Cond]:
    """(phase, message, Succeeded condition) of a Job whose build container does not run (yet)."""
    if pod is None:
        message = f"Build Job {job_name} is creating its pod."
        return BuildPhase.PENDING, message, Cond("Succeeded", None, "Pending", message)
    if pod.phase == "Failed":
        message = f"Build Job {job_name}: attempt {max(1, attempts)} failed (pod {pod.name}); the Job retries."
        return BuildPhase.PENDING, message, Cond("Succeeded", None, "Retrying", message)
    if pod.unschedulable is not None:
        reason, _, detail = pod.unschedulable.partition(": ")
        message = f"Build Job {job_name}: pod {pod.name} cannot be scheduled: {detail}"
        if pod.no_node_matches_selector:
            reason = NO_NODE_WITH_GPU_PRODUCT
            message = (
                f"spec.gpuProduct: no schedulable node has this GPU product (label {GPU_PRODUCT_LABEL}). {message}"
            )
        return BuildPhase.PENDING, message, Cond("Succeeded", None, reason or "Unschedulable", message)
    if pod.node is None:
        message = f"Build Job {job_name}: pod {pod.name} waits for the scheduler."
        return BuildPhase.PENDING, message, Cond("Succeeded", None, "Pending", message)
    waiting = f" ({pod.waiting})" if pod.waiting else ""
    message = f"Build Job {job_name}: pod {pod.name} is starting on node {pod.node}{waiting}."
    return BuildPhase.PENDING, message, Cond("Succeeded", None, "Starting", message)


def _job_phase(
    job: dict[str, Any] | None,
    job_name: str,
    engine_path: str,
    attempts: int,
    pod: BuildPodFacts | None = None,
    expected: str = "",
) -> tuple[BuildPhase, str, Cond]:
    """(phase, message, Succeeded condition) of the build as its Job and its newest pod show it.

    Building only while the build container runs: a pod the scheduler cannot place, or one still pulling its
    image, is Pending with the reason.
    """
    if job is None:
        message = "Creating the build Job."
        return BuildPhase.PENDING, message, Cond("Succeeded", None, "Pending", message)
    failure = _job_failure(job)
    if _job_complete(job):
        message = f"Engine written to {engine_path}."
        return BuildPhase.SUCCEEDED, message, Cond(SUCCEEDED, True, "EngineBuilt", message)
    if failure is not None:
        reason, detail = failure
        message = f"Build Job {job_name} failed ({reason}): {detail or 'see the Job pods logs'}."
        return BuildPhase.FAILED, message, Cond("Succeeded", False, reason, message)
    if pod is not None and pod.building:
        since = f" since {pod.running_since}" if pod.running_since else ""
        expect = f", expected to take about {expected}" if expected else ""
        message = (
            f"Build Job {job_name} is compiling on node {pod.node or 'unknown'}{since} "
            f"(attempt {max(1, attempts)}{expect})."
        )
        return BuildPhase.BUILDING, message, Cond("Succeeded", None, "Building", message)
    return _waiting_phase(job_name, pod, attempts)


def _finish_times(job: dict[str, Any] | None, phase: BuildPhase, status: dict[str, Any]) -> None:
    """completionTime and durationSeconds of a finished build (a failed Job has no completionTime of its own)."""
    if job is None or phase not in (BuildPhase.SUCCEEDED, BuildPhase.FAILED):
        return
    job_status = job.get("status") or {}
    finished = job_status.get("completionTime")
    if phase is BuildPhase.FAILED:
        finished = finished or _last_condition_time(job)
    if not finished:
        return
    status["completionTime"] = finished
    begin, end = parse_time(job_status.get("startTime")), parse_time(finished)
    if begin and end:
        status["durationSeconds"] = max(0, int((end - begin).total_seconds()))


def compute_build_status(
    build: EngineBuild,
    job: dict[str, Any] | None,
    job_name: str,
    engine_path: str,
    previous: dict[str, Any],
    now: str,
    pod: BuildPodFacts | None = None,
    expected_seconds: int | None = None,
) -> dict[str, Any]:
    """Phase, times and message of a build. A finished result is final: it never goes back to Building."""
    generation = int(build.metadata.get("generation", 0))
    if job is None and previous.get("phase") in FINISHED:
        # The Job was cleaned up after its result was recorded: the result stands.
        return _recorded(previous, generation, now)
    status: dict[str, Any] = {"observedGeneration": generation, "jobName": job_name}
    job_status = (job or {}).get("status") or {}
    status["attempts"] = _attempts(job_status)
    if job_status.get("startTime"):
        status["startTime"] = job_status["startTime"]
    expected = format_duration(expected_seconds) if expected_seconds else ""
    if expected:
        status["expectedDuration"] = expected
    phase, message, cond = _job_phase(job, job_name, engine_path, status["attempts"], pod, expected)
    # When the running attempt's build container started; only while Building, so `kubectl get eb` shows the
    # time compiling next to the expected duration, and a blank once durationSeconds tells the whole story.
    if phase is BuildPhase.BUILDING and pod is not None and pod.running_since:
        status["buildingSince"] = pod.running_since
    if phase is BuildPhase.SUCCEEDED:
        status["enginePath"] = engine_path
    status["phase"] = phase.value
    status["message"] = message
    _finish_times(job, phase, status)
    status["conditions"] = merge_conditions(previous.get("conditions") or [], kstatus_conditions(cond), generation, now)
    return status


def _last_condition_time(job: dict[str, Any]) -> str | None:
    times = [c.get("lastTransitionTime") for c in (job.get("status") or {}).get("conditions") or []]
    found = [t for t in times if t]
    return max(found) if found else None


def refused_build_status(build: EngineBuild, message: str, previous: dict[str, Any], now: str) -> dict[str, Any]:
    """Status of an EngineBuild the operator will not build as written: Failed, no Job, the field named."""
    generation = int(build.metadata.get("generation", 0))
    cond = Cond("Succeeded", False, "InvalidSpec", message)
    return {
        "observedGeneration": generation,
        "phase": BuildPhase.FAILED.value,
        "message": message,
        "conditions": merge_conditions(previous.get("conditions") or [], kstatus_conditions(cond), generation, now),
    }


def no_node_build_status(build: EngineBuild, message: str, previous: dict[str, Any], now: str) -> dict[str, Any]:
    """Status of a build no node can run: Pending (a node that joins lets it proceed), no Job, the field named.

    Reconciling, not Stalled: kstatus and Argo CD show it in progress, because a change to the cluster, not only a
    new spec, moves it on."""
    generation = int(build.metadata.get("generation", 0))
    cond = Cond(SUCCEEDED, None, NO_NODE_WITH_GPU_PRODUCT, message)
    return {
        "observedGeneration": generation,
        "phase": BuildPhase.PENDING.value,
        "message": message,
        "conditions": merge_conditions(previous.get("conditions") or [], kstatus_conditions(cond), generation, now),
    }
