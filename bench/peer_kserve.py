"""The peer half of a round: KServe's controller manager (v0.15.0, RawDeployment mode) given the same work.

Same bed, same N, same harness as the operator half (bench/rounds.py): N InferenceServices of one small
Hugging Face model, one replica each, on the bench's CPU nodes, so KServe makes a Deployment and a Service
per resource (`serving.kserve.io/autoscalerClass: external` leaves out the HPA it would add by default, which
the operator does not make either). Converged: the Deployment and Service exist and the InferenceService's
`status.observedGeneration` equals its generation; Ready: its `Ready` condition is True. The manager runs as
a host process (bench/peer/kserve/start.sh); its memory and CPU come from /proc as the operator's do.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import apimetrics
from .apimetrics import RequestKey
from .create import create_fleet
from .kube import Api
from .measure import MemorySampler, between, delete_namespace, events_by, percentiles, scrape
from .operator_proc import cpu_seconds, memory_mb
from .tracker import Subject, Tracker

PEER_DIR = Path(__file__).resolve().parent / "peer" / "kserve"
GROUP = "serving.kserve.io"
PARENT_LABEL = "serving.kserve.io/inferenceservice"  # on the Deployment and the Service (v0.15.0)
EVENT_SOURCES = frozenset({"v1beta1Controllers"})  # the manager's event recorder (pkg/controller/v1beta1)


def isvc_path(namespace: str) -> str:
    return f"/apis/{GROUP}/v1beta1/namespaces/{namespace}/inferenceservices"


def isvc_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


INFERENCE_SERVICES = Subject(isvc_path, PARENT_LABEL, isvc_ready)


def inference_service(name: str) -> dict[str, Any]:
    """The InferenceService counterpart of bench.workload.inference_deployment: same model, replicas, size."""
    size = {"cpu": "100m", "memory": "256Mi"}
    return {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "annotations": {"serving.kserve.io/autoscalerClass": "external"}},
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "model": {
                    "modelFormat": {"name": "huggingface"},
                    "storageUri": "hf://Qwen/Qwen2.5-0.5B-Instruct",
                    "resources": {"requests": size, "limits": size},
                },
            }
        },
    }


def peer_writes(requests: Counter[RequestKey], events: int) -> Counter[RequestKey]:
    """The rows only the peer writes on this fleet: its own kinds, Deployments, Services, HPAs, its Events."""

    def only_peer(key: RequestKey) -> bool:
        if not key.write:
            return False
        if key.group == GROUP:
            return True
        if key.group == "apps" and key.resource == "deployments":
            return key.subresource == ""
        if key.group == "autoscaling":
            return key.subresource == ""
        return key.group == "" and key.resource in ("services", "configmaps")

    return apimetrics.owned_writes(requests, only_peer, events)


class Manager:
    """start.sh / stop.sh of the peer on the bench's bed, and its process from the pid file."""

    def __init__(self, env: dict[str, str], state_dir: Path) -> None:
        self.env = env
        self.pid_file = state_dir / "pids" / "kserve-manager.pid"

    def _script(self, name: str) -> None:
        proc = subprocess.run(["bash", str(PEER_DIR / name)], env=self.env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"bench/peer/kserve/{name} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")

    def start(self) -> None:
        self._script("start.sh")

    def stop(self) -> None:
        self._script("stop.sh")

    @property
    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def memory(self) -> tuple[float, float]:
        return memory_mb(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


async def peer_half(
    api: Api, manager: Manager, ns: str, names: list[str], cfg: Any, clean_up: bool = True
) -> dict[str, Any]:
    """Times the peer on N InferenceServices (keys prefixed `peer_`); with `clean_up`, deletes `ns` before the
    manager stops (its InferenceServices carry the manager's finalizer)."""
    n = len(names)
    await asyncio.to_thread(manager.start)
    sampler = MemorySampler(manager)
    sampler.start()
    tracker = Tracker(api, ns, names, INFERENCE_SERVICES)
    try:
        await tracker.start()
        start_scrape = await scrape(api)
        t0 = time.monotonic()
        await create_fleet(
            api, ns, names, cfg.create_concurrency, tracker.progress, None, isvc_path(ns), inference_service
        )
        if not await tracker.wait(tracker.progress.all_done, cfg.timeout):
            raise RuntimeError(f"peer N={n}: {len(tracker.progress.converged())}/{n} converged in {cfg.timeout:.0f}s")
        t_peer = max(tracker.progress.converged().values()) - t0
        rss_converged = manager.memory()[0]
        ready = await tracker.wait(tracker.progress.all_ready, cfg.timeout)
        t_ready = max(tracker.progress.ready.values()) - t0 if ready else None
        await asyncio.sleep(cfg.settle_seconds)
        settled_scrape, events = await scrape(api), await events_by(api, ns, EVENT_SOURCES)
        rss_idle, hwm = manager.memory()
        cpu = manager.cpu_seconds()
    finally:
        sampler.stop()
        try:
            await tracker.stop()
            if clean_up:  # the namespace goes while the manager runs, or its finalizers would hold it
                await delete_namespace(api, ns, wait=600 + n / 5)
        finally:
            await asyncio.to_thread(manager.stop)
    writes = peer_writes(between(start_scrape, settled_scrape), events)
    latencies = tracker.progress.latencies()
    return {
        "peer": "kserve v0.15.0 (RawDeployment)",
        "t_peer_s": round(t_peer, 3),
        "peer_t_ready_s": round(t_ready, 3) if t_ready is not None else None,
        "peer_latency_s": percentiles(latencies),
        "peer_writes_per_resource": round(sum(writes.values()) / n, 3),
        "peer_writes": apimetrics.per_resource(writes, n),
        "peer_rss_mb": {
            "converged": round(rss_converged, 1),
            "idle": round(rss_idle, 1),
            "peak": round(max([hwm, *sampler.samples]), 1),
        },
        "peer_cpu_s": round(cpu, 2),
    }
