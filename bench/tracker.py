"""Per-resource timestamps from watches: when each resource's Deployment and Service appeared, when its status
caught up with its generation, and when it became Ready. The same tracker times the operator and the floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from inference_operator.api.labels import LABEL_DEPLOYMENT

from .edits import EditLog
from .kube import Api
from .workload import deployment_path, infd_path, service_path


@dataclass
class Progress:
    """Monotonic times (time.monotonic) per resource name."""

    expected: set[str]
    created: dict[str, float] = field(default_factory=dict)
    deployment: dict[str, float] = field(default_factory=dict)
    service: dict[str, float] = field(default_factory=dict)
    observed: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    deployment_generation: dict[str, int] = field(default_factory=dict)  # the latest seen, per parent
    all_done: asyncio.Event = field(default_factory=asyncio.Event)
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Kept as events arrive, one name at a time: a count over the fleet per event is O(N^2) at N = 10,000.
    _converged: dict[str, float] = field(default_factory=dict)
    _ready_count: int = 0

    def converged_at(self, name: str) -> float | None:
        """Children present and status.observedGeneration == generation: the benchmark's end condition."""
        times = (self.deployment.get(name), self.service.get(name), self.observed.get(name))
        return None if any(t is None for t in times) else max(t for t in times if t is not None)

    def converged(self) -> dict[str, float]:
        return self._converged

    def latencies(self) -> list[float]:
        """Seconds from the create request to convergence, per resource."""
        return sorted(t - self.created[n] for n, t in self._converged.items() if n in self.created)

    def mark_ready(self, name: str, now: float) -> None:
        if name not in self.ready:
            self.ready[name] = now
            self._ready_count += name in self.expected

    def check(self, name: str) -> None:
        """After an event about `name`: is it converged now, and are all?"""
        if name in self.expected and name not in self._converged and (t := self.converged_at(name)) is not None:
            self._converged[name] = t
        if not self.all_done.is_set() and len(self._converged) == len(self.expected):
            self.all_done.set()
        if not self.all_ready.is_set() and self._ready_count == len(self.expected):
            self.all_ready.set()


def infd_ready(obj: dict[str, Any]) -> bool:
    return bool((obj.get("status") or {}).get("phase") == "Ready")


@dataclass(frozen=True)
class Subject:
    """What is timed: the resource type users create, the label its children name it by, and its Ready."""

    path: Callable[[str], str]  # namespace -> the collection's path
    parent_label: str
    is_ready: Callable[[dict[str, Any]], bool]


INFERENCE_DEPLOYMENTS = Subject(infd_path, LABEL_DEPLOYMENT, infd_ready)


class Tracker:
    """Three watches on one namespace feeding one Progress: the subject's, its Deployments' and Services'."""

    def __init__(self, api: Api, namespace: str, names: list[str], subject: Subject = INFERENCE_DEPLOYMENTS) -> None:
        self.api = api
        self.namespace = namespace
        self.subject = subject
        self.progress = Progress(expected=set(names))
        self.tasks: list[asyncio.Task[None]] = []
        self.edits: EditLog | None = None  # set while edits are timed (bench/churn.py)

    def _parent(self, obj: dict[str, Any]) -> str:
        meta = obj.get("metadata", {})
        return str((meta.get("labels") or {}).get(self.subject.parent_label) or meta.get("name", ""))

    async def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self._follow(self.api.watch(self.subject.path(self.namespace)), self._on_infd)),
            asyncio.create_task(
                self._follow(self.api.watch(deployment_path(self.namespace), metadata_only=True), self._on_deployment)
            ),
            asyncio.create_task(
                self._follow(self.api.watch(service_path(self.namespace), metadata_only=True), self._on_service)
            ),
        ]
        await asyncio.sleep(0.5)  # the three initial lists are done before the first create

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait for an event; a watch that died raises here rather than leaving the bench waiting forever."""
        deadline = time.monotonic() + timeout
        while not event.is_set():
            for task in self.tasks:
                if task.done():
                    task.result()
            if time.monotonic() > deadline:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=1.0)
        return True

    async def _follow(self, stream: AsyncIterator[dict[str, Any]], handle: Any) -> None:
        async for event in stream:
            if event["type"] in ("ADDED", "MODIFIED"):
                self.progress.check(handle(event["object"]))

    def _on_infd(self, obj: dict[str, Any]) -> str:
        now = time.monotonic()
        name = str(obj["metadata"]["name"])
        p = self.progress
        status = obj.get("status") or {}
        generation = obj["metadata"].get("generation", 0)
        if generation and status.get("observedGeneration") == generation:
            p.observed.setdefault(name, now)
        if self.subject.is_ready(obj):
            p.mark_ready(name, now)
        if self.edits is not None:
            self.edits.on_status(name, int(status.get("observedGeneration") or 0), now)
        return name

    def _on_deployment(self, obj: dict[str, Any]) -> str:
        now, parent = time.monotonic(), self._parent(obj)
        self.progress.deployment.setdefault(parent, now)
        self.progress.deployment_generation[parent] = int(obj["metadata"].get("generation") or 0)
        if self.edits is not None:
            self.edits.on_deployment(parent, self.progress.deployment_generation[parent], now)
        return parent

    def _on_service(self, obj: dict[str, Any]) -> str:
        parent = self._parent(obj)
        self.progress.service.setdefault(parent, time.monotonic())
        return parent
