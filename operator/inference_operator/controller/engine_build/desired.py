"""The desired state of one EngineBuild: its Job (one per key, never a twin), its status, its Event. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ...api.engine_build import BuildPhase, EngineBuild
from ...api.errors import InvalidSpec
from ...api.settings import OperatorSettings
from ...api.timestamps import parse_time
from ...api.validation import format_validation_error
from ...render.build_job import render_build_job
from ...render.engine_build import DEADLINE_FACTOR
from ...render.engine_key import build_job_name, engine_dir
from ..conditions import status_changed
from .status import FINISHED, compute_build_status

KIND = "EngineBuild"


def parse(body: dict[str, Any]) -> EngineBuild:
    try:
        return EngineBuild.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError as exc:
        raise InvalidSpec(format_validation_error(exc)) from None


def job_to_create(
    build: EngineBuild, job: dict[str, Any] | None, previous: dict[str, Any], settings: OperatorSettings
) -> dict[str, Any] | None:
    """The build Job, while none exists and no result is recorded (a Job cleaned up afterwards is not redone)."""
    if job is not None or previous.get("phase") in FINISHED:
        return None
    return render_build_job(build, settings.store, settings.build_job_ttl_seconds)


@dataclass(frozen=True)
class BuildUpdate:
    status: dict[str, Any]
    changed: bool
    event: tuple[str, str, str] | None  # (type, reason, message) of a phase change
    finished_seconds: float | None  # the duration of a build that just succeeded, for the histogram
    started_at: float | None  # Unix time the running build started
    expected_seconds: float  # how long it should take

    @property
    def phase(self) -> str:
        return str(self.status["phase"])


def build_update(
    build: EngineBuild, job: dict[str, Any] | None, previous: dict[str, Any], settings: OperatorSettings, now: str
) -> BuildUpdate:
    name = build.metadata["name"]
    engine_path = f"{engine_dir(settings.store.mount_path, name)}/engine"
    status = compute_build_status(build, job, build_job_name(name), engine_path, previous, now)
    changed = status_changed(previous, status)
    event = None
    finished = None
    if changed and previous.get("phase") != status["phase"]:
        kind = "Warning" if status["phase"] == BuildPhase.FAILED.value else "Normal"
        event = (kind, f"Build{status['phase']}", str(status["message"]))
        if status["phase"] == BuildPhase.SUCCEEDED.value and "durationSeconds" in status:
            finished = float(status["durationSeconds"])
    started = parse_time(status.get("startTime"))
    return BuildUpdate(
        status,
        changed,
        event,
        finished,
        started.timestamp() if started else None,
        # The build deadline is sized at DEADLINE_FACTOR times the expected compile time (render/engine_build.py).
        build.spec.deadline_seconds / DEADLINE_FACTOR,
    )
