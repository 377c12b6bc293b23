"""Edits under churn: with a fleet steady, R spec edits a second for S seconds, each timed from its response to
`status.observedGeneration` and the Deployment's new template (bench/edits.py keeps the books).

An edit sets one environment variable of the vLLM container (`spec.engine.vllm.env`), which the render passes
through to the Deployment's pod template: the smallest spec change that must reach the pods. Edits go to
resources picked at random (a fixed seed) among those with no edit in flight.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from .edits import Edit, EditLog
from .kube import Api, ApiError
from .measure import percentiles
from .tracker import Tracker
from .workload import infd_path

EDIT_ENV = "BENCH_EDIT"
SEED = 19


@dataclass(frozen=True)
class Churn:
    rate: float  # edits per second
    seconds: float

    @property
    def edits(self) -> int:
        return int(self.rate * self.seconds)


def edit_patch(index: int) -> dict[str, Any]:
    """A merge patch that changes the rendered Deployment's template (one env var's value)."""
    return {"spec": {"engine": {"vllm": {"env": [{"name": EDIT_ENV, "value": str(index)}]}}}}


def pick(rng: random.Random, names: list[str], busy: dict[str, Edit]) -> str | None:
    """A resource with no edit in flight (None if every one has one)."""
    for _ in range(8):
        name = rng.choice(names)
        if name not in busy:
            return name
    free = [n for n in names if n not in busy]
    return rng.choice(free) if free else None


async def run_churn(api: Api, tracker: Tracker, names: list[str], churn: Churn, timeout: float) -> dict[str, Any]:
    """Send `churn.edits` edits at `churn.rate` a second, wait (up to `timeout`) for all to land; their latencies."""
    log = EditLog()
    tracker.edits = log
    rng = random.Random(SEED)
    ns = tracker.namespace
    progress = tracker.progress

    async def one(name: str, index: int) -> None:
        edit = log.begin(name, progress.deployment_generation.get(name, 0), time.monotonic())
        try:
            body = await api.request("PATCH", infd_path(ns, name), edit_patch(index), "application/merge-patch+json")
        except ApiError:
            log.refused(edit)
            return
        log.answered(edit, int(body["metadata"]["generation"]), time.monotonic())

    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic()
    for index in range(churn.edits):
        await asyncio.sleep(max(0.0, start + index / churn.rate - time.monotonic()))
        name = pick(rng, names, log.pending)
        if name is not None:
            tasks.append(asyncio.create_task(one(name, index)))
    sent_for = time.monotonic() - start
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + timeout
    while log.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    tracker.edits = None
    latencies = log.latencies()
    return {
        "rate_per_s": churn.rate,
        "seconds": churn.seconds,
        "sent": len(tasks),
        "sent_for_s": round(sent_for, 2),
        "landed": len(log.done),
        "refused": log.failed,
        "not_landed": len(log.pending),
        "latency_s": percentiles(latencies),
        "latencies_ms": [round(x * 1000, 1) for x in latencies],
    }
