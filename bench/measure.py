"""What every half of a round measures the same way: the API server's counters, latency percentiles, a
process's memory, and the namespaces the halves run in."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from . import apimetrics
from .apimetrics import RequestKey
from .kube import Api, ApiError
from .workload import namespace

CONTROLLERS_EVENT_KINDS = ("Pod", "ReplicaSet", "Deployment")  # the operator and the peer post on their own kinds


async def events_by(api: Api, ns: str, sources: frozenset[str]) -> int:
    """Core Events in a namespace whose reporting component (or source) is one of `sources`: one POST each."""
    # Not the bulk the controllers, the scheduler and kwok write about pods, ReplicaSets and Deployments: at
    # N = 10,000 that list would be tens of megabytes for each count.
    query = {"fieldSelector": ",".join(f"involvedObject.kind!={kind}" for kind in CONTROLLERS_EVENT_KINDS)}
    listing = await api.request("GET", f"/api/v1/namespaces/{ns}/events", query=query)
    components = Counter(
        e.get("reportingComponent") or (e.get("source") or {}).get("component", "") for e in listing["items"]
    )
    return sum(count for component, count in components.items() if component in sources)


class Measured(Protocol):
    def memory(self) -> tuple[float, float]: ...


@dataclass
class Scrape:
    """The API server's counters and the bench's own, at one moment."""

    server: Counter[RequestKey]
    own: Counter[RequestKey]


async def scrape(api: Api) -> Scrape:
    return Scrape(apimetrics.parse_request_totals(await api.text("/metrics")), Counter(api.own))


def between(before: Scrape, after: Scrape) -> Counter[RequestKey]:
    """Everyone's requests between two scrapes but the bench's."""
    own = Counter({k: v - before.own.get(k, 0) for k, v in after.own.items()})
    return apimetrics.delta(after.server, before.server, own)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return {
        "p50": round(cuts[49], 4),
        "p90": round(cuts[89], 4),
        "p99": round(cuts[98], 4),
        "max": round(max(values), 4),
    }


async def make_namespace(api: Api, name: str) -> None:
    await api.request("POST", "/api/v1/namespaces", namespace(name))


async def delete_namespace(api: Api, name: str, wait: float) -> None:
    try:
        await api.request("DELETE", f"/api/v1/namespaces/{name}")
    except ApiError as exc:
        if exc.status != 404:
            raise
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            await api.request("GET", f"/api/v1/namespaces/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        await asyncio.sleep(1)


class MemorySampler:
    """A process's RSS every half second, for the peak between /proc reads (VmHWM is the kernel's)."""

    def __init__(self, operator: Measured) -> None:
        self.operator = operator
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append(self.operator.memory()[0])
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
