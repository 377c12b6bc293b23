"""One round at one N: the operator's half, its idle window (then a restart and edits under churn if asked), then
the floor's half (with the same churn), on one test bed."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference_operator import FIELD_MANAGER

from . import apimetrics
from .apimetrics import RequestKey
from .bed import REPO
from .churn import Churn, run_churn
from .create import create_fleet
from .kube import Api
from .measure import MemorySampler, between, delete_namespace, events_by, make_namespace, percentiles, scrape
from .operator_proc import Operator
from .peer_kserve import Manager, peer_half
from .restart import restart_phase
from .tracker import Tracker
from .workload import resource_name

CHILDREN = 2  # Deployment and Service; a PodMonitor only where the monitoring API is served (not on the bed)
OPERATOR_EVENT_SOURCES = frozenset({FIELD_MANAGER, "kopf"})


@dataclass(frozen=True)
class RoundConfig:
    workers: int  # the operator's kopf max_workers: the floor runs as many loops
    create_concurrency: int
    idle_seconds: float
    settle_seconds: float
    timeout: float
    workdir: Path
    profile: bool
    restart: bool = False  # SIGKILL and restart the operator with the fleet steady (bench/restart.py)
    churn: Churn | None = None  # edits under churn with the fleet steady (bench/churn.py)


async def operator_events(api: Api, ns: str) -> int:
    """Core Events the operator (or kopf on its behalf) wrote in a namespace: one POST each."""
    return await events_by(api, ns, OPERATOR_EVENT_SOURCES)


def idle_figures(idle: Counter[RequestKey], operator_events: int, seconds: float) -> dict[str, Any]:
    """Writes in an idle window of `seconds`, per minute: the operator's (with its `operator_events`) and everyone's."""
    minutes = seconds / 60
    op = apimetrics.operator_writes(idle, operator_events)
    everyone = apimetrics.writes(idle)
    return {
        "seconds": seconds,
        "operator_writes_per_minute": round(sum(op.values()) / minutes, 2),
        "all_writes_per_minute": round(sum(everyone.values()) / minutes, 2),
        "writes_per_minute": apimetrics.per_resource(everyone, minutes),
    }


async def operator_half(api: Api, kubeconfig: Path, ns: str, names: list[str], cfg: RoundConfig) -> dict[str, Any]:
    n = len(names)
    profile = cfg.workdir / f"operator-{n}.pyspy.txt" if cfg.profile else None
    operator = Operator(kubeconfig, ns, cfg.workdir / f"operator-{n}.log", profile)
    await asyncio.to_thread(operator.start)
    sampler = MemorySampler(operator)
    sampler.start()
    tracker = Tracker(api, ns, names)
    try:
        await asyncio.sleep(2)  # kopf's watches are established before the first create
        await tracker.start()
        start_scrape = await scrape(api)
        t0 = time.monotonic()
        await create_fleet(api, ns, names, cfg.create_concurrency, tracker.progress)
        if not await tracker.wait(tracker.progress.all_done, cfg.timeout):
            raise RuntimeError(f"N={n}: {len(tracker.progress.converged())}/{n} converged in {cfg.timeout:.0f}s")
        t_operator = max(tracker.progress.converged().values()) - t0
        rss_converged = operator.memory()[0]
        converged_scrape = await scrape(api)
        ready = await tracker.wait(tracker.progress.all_ready, cfg.timeout)
        t_ready = max(tracker.progress.ready.values()) - t0 if ready else None
        await asyncio.sleep(cfg.settle_seconds)
        settled_scrape, settled_events = await scrape(api), await operator_events(api, ns)
        await asyncio.sleep(cfg.idle_seconds)
        idle_scrape, idle_events = await scrape(api), await operator_events(api, ns)
        rss_idle, hwm = operator.memory()
        cpu = operator.cpu_seconds()
        sampler.stop()
        steady = await steady_phases(api, operator, tracker, names, cfg)
    finally:
        sampler.stop()
        try:
            await tracker.stop()
        finally:
            await asyncio.to_thread(operator.stop)  # never leave an operator behind, whatever failed
    converging = between(start_scrape, converged_scrape)
    lifecycle = between(start_scrape, settled_scrape)
    idle = between(settled_scrape, idle_scrape)
    op_writes = apimetrics.operator_writes(lifecycle, settled_events)
    op_converging = apimetrics.operator_writes(converging, 0)
    latencies = tracker.progress.latencies()
    return {
        "t_operator_s": round(t_operator, 3),
        "t_ready_s": round(t_ready, 3) if t_ready is not None else None,
        "all_ready": ready,
        "latency_s": percentiles(latencies),
        "latencies_ms": [round(x * 1000, 1) for x in latencies],
        "operator_writes_per_resource": round(sum(op_writes.values()) / n, 3),
        "operator_writes_per_resource_to_converged": round(sum(op_converging.values()) / n, 3),
        "requests_per_resource": {
            "operator_writes": apimetrics.per_resource(op_writes, n),
            "all_but_bench": apimetrics.per_resource(lifecycle, n),
        },
        "idle": idle_figures(idle, idle_events - settled_events, cfg.idle_seconds),
        "rss_mb": {
            "converged": round(rss_converged, 1),
            "idle": round(rss_idle, 1),
            "peak": round(max([hwm, *sampler.samples]), 1),
        },
        "operator_cpu_s": round(cpu, 2),
        "profile": profile.name if profile else None,
        **steady,
    }


async def steady_phases(
    api: Api, operator: Operator, tracker: Tracker, names: list[str], cfg: RoundConfig
) -> dict[str, Any]:
    """With the fleet steady: the restart (`restart`), then the edits (`churn`), each if asked."""
    out: dict[str, Any] = {}
    ns = tracker.namespace
    if cfg.restart:

        async def events() -> int:
            return await operator_events(api, ns)

        out["restart"] = await restart_phase(api, operator, len(names), events, cfg.settle_seconds, cfg.timeout)
        out["restart"]["rss_mb"] = round(operator.memory()[0], 1)
    if cfg.churn is not None:
        out["churn"] = await run_churn(api, tracker, names, cfg.churn, cfg.timeout)
    return out


class FloorProcess:
    """`python -m bench.floor` for one namespace, started before the creates as the operator is."""

    def __init__(self, kubeconfig: Path, ns: str, n: int, workers: int) -> None:
        cmd = [sys.executable, "-m", "bench.floor", "--kubeconfig", str(kubeconfig), "--namespace", ns]
        cmd += ["--count", str(n), "--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)

    def wait_watching(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "watching" not in line:
            raise RuntimeError(f"the floor process did not start (exit {self.proc.poll()}): {line!r}")

    def result(self) -> dict[str, Any]:
        """Its JSON line once the new resources are done (it serves edits after that, until stopped)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("{"):
            raise RuntimeError(f"the floor process failed (exit {self.proc.poll()}): {line!r}")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


async def floor_half(api: Api, kubeconfig: Path, ns: str, names: list[str], cfg: RoundConfig) -> dict[str, Any]:
    n = len(names)
    floor = FloorProcess(kubeconfig, ns, n, cfg.workers)
    tracker = Tracker(api, ns, names)
    try:
        await asyncio.to_thread(floor.wait_watching)
        await tracker.start()
        t0 = time.monotonic()
        await create_fleet(api, ns, names, cfg.create_concurrency, tracker.progress)
        if not await tracker.wait(tracker.progress.all_done, cfg.timeout):
            raise RuntimeError(f"floor N={n}: {len(tracker.progress.converged())}/{n} converged")
        t_floor = max(tracker.progress.converged().values()) - t0
        done = await asyncio.wait_for(asyncio.to_thread(floor.result), 60)
        churn = await run_churn(api, tracker, names, cfg.churn, cfg.timeout) if cfg.churn else None
    finally:
        floor.stop()
        await tracker.stop()
    latencies = tracker.progress.latencies()
    return ({"floor_churn": churn} if churn else {}) | {
        "t_floor_s": round(t_floor, 3),
        "floor_latency_s": percentiles(latencies),
        "floor_latencies_ms": [round(x * 1000, 1) for x in latencies],
        "floor_writes_per_resource": round(sum(done["writes"].values()) / n, 3),
        "floor_cpu_s": done["cpu_s"],
    }


def write_figures(path: Path | None, result: dict[str, Any]) -> None:
    """The figures so far, as JSON (a round's, a half's, bench.steady's), when there is a file to keep them in."""
    if path is not None:
        path.write_text(json.dumps(result, indent=1, default=str) + "\n")


async def run_round(
    api: Api,
    kubeconfig: Path,
    n: int,
    cfg: RoundConfig,
    clean_up: bool,
    peer: Manager | None = None,
    keep: Path | None = None,
    fresh: Callable[[], Awaitable[Api]] | None = None,
) -> dict[str, Any]:
    """The operator's half, then the floor's, then (with `peer`) KServe's, each in a namespace of its own.

    `clean_up`: delete the round's namespaces and wait for them to go, so that the next round starts on an empty
    cluster. False when the bed goes after the round anyway, or is replaced by a fresh one (bench/fleet.py): at
    N = 10,000 the garbage collection of three namespaces of 10,000 resources, Deployments, ReplicaSets, pods and
    Services takes longer than the round itself.

    `keep`: a file the figures so far are written to as each half ends (a half at N = 10,000 takes most of an
    hour: a round cut off in its peer half still leaves the operator's and the floor's).

    `fresh`: a fresh bed before each half after the first (`--bed-per-half`), whose client it returns. Without
    it a later half runs beside the earlier halves' fleets: at N = 10,000 that made the floor's half 3 to 4 times
    slower than the operator's (docs/benchmarks.md), so no ratio could be read from the round."""
    tag = f"bench-{n}-{secrets.token_hex(2)}"
    op_ns, floor_ns, peer_ns = f"{tag}-op", f"{tag}-floor", f"{tag}-peer"
    names = [resource_name(i) for i in range(n)]
    halves = [op_ns, floor_ns] + ([peer_ns] if peer else [])

    async def bed_for(ns: str) -> Api:
        """The bed the next half runs on, with its namespace."""
        nonlocal api
        if fresh is not None and ns != op_ns:
            api = await fresh()
        await make_namespace(api, ns)
        return api

    try:
        result: dict[str, Any] = {"n": n, "children": CHILDREN, "bed_per_half": fresh is not None}
        result |= await operator_half(await bed_for(op_ns), kubeconfig, op_ns, names, cfg)
        write_figures(keep, result)
        result |= await floor_half(await bed_for(floor_ns), kubeconfig, floor_ns, names, cfg)
        write_figures(keep, result)
        if peer is not None:
            result |= await peer_half(await bed_for(peer_ns), peer, peer_ns, names, cfg, clean_up)
    finally:
        for ns in halves:  # on a fresh bed an earlier half's namespace is gone with its bed: a 404, nothing waits
            await delete_namespace(api, ns, wait=600 + n / 5 if clean_up else 0)
    result["ratio"] = round(result["t_operator_s"] / result["t_floor_s"], 3)
    if peer is not None:
        result["peer_ratio"] = round(result["t_operator_s"] / result["t_peer_s"], 3)
    return result
