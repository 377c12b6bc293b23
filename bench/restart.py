"""Restart at scale: with the fleet steady, SIGKILL the operator, start it again, and time until every resource has
been verified by a completed reconcile; the writes it made meanwhile (the target is none), and the reads of the
fleet's kinds (what its read cache could not answer).

"Verified" is read from the operator's own metrics endpoint, which costs no API request: the fleet gauge
`inference_operator_inference_deployments{phase, engine}` counts the resources the process has reconciled to
the end since it started (metrics/fleet_gauges.py: a resource enters it when its reconcile has written, or
found nothing to write, and leaves it when it is deleted), so its sum reaching N means all N were verified.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Protocol

import aiohttp

from . import apimetrics
from .kube import Api
from .measure import between, scrape

FLEET_GAUGE = "inference_operator_inference_deployments"
_SAMPLE = re.compile(r"^" + FLEET_GAUGE + r"\{[^}]*\}\s+(?P<value>\S+)$")
POLL_SECONDS = 0.5


def verified_count(text: str) -> int:
    """Resources reconciled since the process started: the sum of the fleet gauge's series."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            total += float(match.group("value"))
    return int(total)


class Restartable(Protocol):
    metrics_port: int

    def kill(self) -> None: ...

    def start(self, timeout: float = 60) -> None: ...


async def read_verified(session: aiohttp.ClientSession, port: int) -> int | None:
    """The count from the operator's /metrics, only the fleet gauge asked for (prometheus_client's `name[]`)."""
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        async with session.get(url, params={"name[]": FLEET_GAUGE}, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return verified_count(await resp.text()) if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None  # not serving yet


async def restart_phase(
    api: Api, operator: Restartable, n: int, events: Any, settle: float, timeout: float
) -> dict[str, Any]:
    """Kill, start, poll the count to N (with a deadline); `events()` counts the operator's core Events."""
    before, events_before = await scrape(api), await events()
    await asyncio.to_thread(operator.kill)
    t0 = time.monotonic()
    await asyncio.to_thread(operator.start)
    t_alive = time.monotonic() - t0
    verified, t_verified = 0, None
    async with aiohttp.ClientSession() as session:
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            verified = await read_verified(session, operator.metrics_port) or verified
            if verified >= n:
                t_verified = time.monotonic() - t0
                break
            await asyncio.sleep(POLL_SECONDS)
    await asyncio.sleep(settle)
    after, events_after = await scrape(api), await events()
    requests = between(before, after)
    writes = apimetrics.operator_writes(requests, events_after - events_before)
    return {
        "t_alive_s": round(t_alive, 3),
        "t_verified_s": round(t_verified, 3) if t_verified is not None else None,
        "verified": verified,
        "writes": sum(writes.values()),
        "writes_by_verb_and_kind": apimetrics.per_resource(writes, 1),
        # GETs here are the operator's reconciles asking what its cache could not answer (bench/apimetrics.py)
        "reads_by_verb_and_kind": apimetrics.per_resource(apimetrics.fleet_reads(requests), 1),
    }
