"""Watching one real vLLM pod of an InferenceDeployment over time, as the real-engine e2e tests need it: the pod's
conditions and container state, the engine's own /health and log, the resource's status, and the operator's
reconcile counters. Everything is read the way a person would (kubectl, HTTP, the agent's log files)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from . import testbed
from .cluster import Cluster
from .operator_process import OperatorProcess

ENGINE_CONTAINER = "vllm"
# vLLM's model loader logs this once the weights are in memory (vllm/model_executor/model_loader/
# default_loader.py at v0.32.0): the earliest moment the engine could serve.
WEIGHTS_LOADED = "Loading weights took"


def pod_log_path(namespace: str, pod: str, container: str = ENGINE_CONTAINER) -> Path:
    """The node agent's log of a container (all its runs, appended)."""
    return testbed.state_dir() / "logs" / "pods" / f"{namespace}_{pod}_{container}.log"


def pod_log(namespace: str, pod: str, container: str = ENGINE_CONTAINER) -> str:
    path = pod_log_path(namespace, pod, container)
    return path.read_text(errors="replace") if path.exists() else ""


def health(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status of GET url, None when nothing answers in time."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return None


@dataclass(frozen=True)
class Sample:
    """One look at the engine pod and its InferenceDeployment, `t` seconds after the watch began."""

    t: float
    pod: str
    phase: str  # the InferenceDeployment's status.phase
    ready_condition: dict[str, Any]  # its Ready condition
    ready_replicas: int
    message: str
    running: bool  # the engine container's state is running
    started: bool  # its startup probe has passed
    pod_ready: bool  # the pod's Ready condition is True
    restarts: int
    last_state: dict[str, Any]
    health: int | None  # GET /health from the test, None when nothing answers
    log_bytes: int  # size of the container's log: what it has written so far
    weights_loaded_at: int  # offset of the last WEIGHTS_LOADED line in the log, -1 if none

    @property
    def infd_ready(self) -> bool:
        return self.phase == "Ready" and self.ready_condition.get("status") == "True"


class EngineWatch:
    """Samples one InferenceDeployment's engine pod (there is one replica) until a condition holds."""

    def __init__(self, cluster: Cluster, namespace: str, name: str, port: int = 8000) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.port = port
        self.started = time.monotonic()
        self.samples: list[Sample] = []

    def engine_pods(self) -> list[dict[str, Any]]:
        selector = f"inference-operator.dev/deployment={self.name},app.kubernetes.io/component=serving"
        pods = self.cluster.items("pods", self.namespace, selector)
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def sample(self) -> Sample | None:
        infd = self.cluster.get("inferencedeployment", self.name, self.namespace) or {}
        status = infd.get("status") or {}
        pods = self.engine_pods()
        if not pods:
            return None
        pod = pods[0]
        name = pod["metadata"]["name"]
        pstatus = pod.get("status") or {}
        cstatus: dict[str, Any] = next(
            (c for c in pstatus.get("containerStatuses") or [] if c["name"] == ENGINE_CONTAINER), {}
        )
        conditions = {c["type"]: c for c in pstatus.get("conditions") or []}
        ip = pstatus.get("podIP")
        log = pod_log(self.namespace, name)
        found = Sample(
            t=time.monotonic() - self.started,
            pod=name,
            phase=str(status.get("phase", "")),
            ready_condition=next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {}),
            ready_replicas=int(status.get("readyReplicas") or 0),
            message=str(status.get("message", "")),
            running="running" in (cstatus.get("state") or {}),
            started=bool(cstatus.get("started")),
            pod_ready=(conditions.get("Ready") or {}).get("status") == "True",
            restarts=int(cstatus.get("restartCount") or 0),
            last_state=dict(cstatus.get("lastState") or {}),
            health=health(f"http://{ip}:{self.port}/health") if ip else None,
            log_bytes=len(log.encode()),
            weights_loaded_at=len(log[: log.rfind(WEIGHTS_LOADED)].encode()) if WEIGHTS_LOADED in log else -1,
        )
        self.samples.append(found)
        return found

    def until(self, what: str, done: Callable[[Sample], bool], timeout: float, interval: float = 0.5) -> Sample:
        """Samples until `done` holds for a sample; fails with `what` and the last sample at the deadline."""
        deadline = time.monotonic() + timeout
        last: Sample | None = None
        while time.monotonic() < deadline:
            last = self.sample() or last
            if last is not None and done(last):
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last sample: {last}")

    def since(self, t: float) -> list[Sample]:
        return [s for s in self.samples if s.t >= t]

    def now(self) -> float:
        return time.monotonic() - self.started


def reconcile_counts(operator: OperatorProcess, kind: str = "InferenceDeployment") -> dict[str, float]:
    """inference_operator_reconciles_total of one kind by result, from the operator's own /metrics."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "inference_operator_reconciles":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("kind") == kind:
                counts[sample.labels["result"]] = counts.get(sample.labels["result"], 0.0) + sample.value
    return counts


def count_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in sorted(set(before) | set(after))}
