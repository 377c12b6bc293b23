"""A load client that sends OpenAI completions without pause to a Service's ready endpoints, as a proxy would.

Like kube-proxy or Envoy's EDS, it routes by the Service's EndpointSlices: a reader thread re-lists them every
`refresh` seconds and keeps the endpoints whose `ready` condition is true (the EndpointSlice controller sets it
false as soon as a pod terminates); each worker sends its next request to the next of them, round-robin.

A failed request is a failure, never retried: kube-proxy does not retry a refused connection (the client sees
ECONNREFUSED), and Envoy without a retry policy answers 503 "upstream connect error or disconnect/reset before
headers". What it does is name the cause: a refused connection to an endpoint the latest read no longer lists
is "refused by an endpoint that had left"; one it still lists is "refused by a listed endpoint".

When a read finds no ready endpoint, the workers send nothing until one appears (a proxy would answer 503 for
that time); the report lists those intervals as gaps, so a moment without a ready endpoint is never hidden.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config

from .real_engine import Endpoint

PORT_NAME = "http"


def endpoints_of_slices(slices: list[dict[str, Any]], port_name: str = PORT_NAME) -> list[Endpoint]:
    """Ready endpoints of EndpointSlices (API dicts), sorted by pod and address."""
    found: list[Endpoint] = []
    for s in slices:
        ports = [p["port"] for p in s.get("ports") or [] if p.get("name") == port_name and p.get("port")]
        if not ports:
            continue
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is not True:
                continue
            pod = (ep.get("targetRef") or {}).get("name", "")
            found.extend(Endpoint(pod, address, ports[0]) for address in ep.get("addresses") or [])
    return sorted(found, key=lambda e: (e.pod, e.ip))


@dataclass(frozen=True)
class Failure:
    at: float  # wall clock (time.time())
    endpoint: Endpoint
    reason: str


@dataclass(frozen=True)
class Gap:
    start: float
    end: float | None  # None: still without a ready endpoint when the load stopped

    def seconds(self, until: float) -> float:
        return (self.end if self.end is not None else until) - self.start


@dataclass
class LoadReport:
    scenario: str
    started: float
    stopped: float
    sent: int
    succeeded: int
    failures: list[Failure]
    gaps: list[Gap]
    by_pod: dict[str, int]  # successful requests per pod
    endpoint_sets: list[tuple[float, tuple[str, ...]]]  # (time, pods) at every change of the ready set
    reads: int
    read_errors: int = 0
    longest_between_reads: float = 0.0  # seconds: how stale the client's view of the endpoints could get

    @property
    def failed(self) -> int:
        return len(self.failures)

    def reasons(self) -> Counter[str]:
        return Counter(f.reason for f in self.failures)

    def seconds_without_endpoint(self) -> float:
        return sum(g.seconds(self.stopped) for g in self.gaps)

    def summary(self) -> str:
        """One line for the test log and docs/reliability.md."""
        reasons = "; ".join(f"{n} x {r}" for r, n in self.reasons().most_common()) or "none"
        return (
            f"{self.scenario}: sent {self.sent}, succeeded {self.succeeded}, failed {self.failed} "
            f"(reasons: {reasons}); {len(self.gaps)} gap(s) without a ready endpoint "
            f"({self.seconds_without_endpoint():.1f} s); {self.stopped - self.started:.0f} s; "
            f"{self.reads} endpoint reads ({self.read_errors} failed, longest {self.longest_between_reads:.1f} s "
            "between two); "
            f"pods served: {dict(sorted(self.by_pod.items()))}"
        )

    def failure_lines(self) -> list[str]:
        return [
            f"{time.strftime('%H:%M:%S', time.gmtime(f.at))}.{int(f.at * 1000) % 1000:03d} "
            f"{f.endpoint.pod} {f.endpoint.ip}: {f.reason}"
            for f in self.failures
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "sent": self.sent,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failures": self.failure_lines(),
            "gaps_seconds": [round(g.seconds(self.stopped), 2) for g in self.gaps],
            "by_pod": self.by_pod,
            "endpoint_sets": [[round(t - self.started, 2), list(pods)] for t, pods in self.endpoint_sets],
            "reads": self.reads,
            "read_errors": self.read_errors,
            "longest_between_reads": round(self.longest_between_reads, 2),
        }


def classify(exc: BaseException, still_listed: bool) -> str:
    """A short, stable reason for a failed request."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, ConnectionRefusedError):
        where = "a listed endpoint" if still_listed else "an endpoint that had left"
        return f"connection refused by {where}"
    if isinstance(cause, ConnectionResetError | http.client.RemoteDisconnected | BrokenPipeError):
        return "connection closed mid-request"
    if isinstance(cause, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(cause).__name__}: {cause}"


def completion_request(model: str, max_tokens: int = 4) -> Callable[[Endpoint, float], None]:
    """A request that succeeds only with a completion of `model` (any other answer raises)."""
    body = json.dumps({"model": model, "prompt": "The operator", "max_tokens": max_tokens}).encode()

    def send(endpoint: Endpoint, timeout: float) -> None:
        request = urllib.request.Request(
            f"{endpoint.url}/v1/completions", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
        if not answer.get("choices"):
            raise ValueError(f"no choices in the answer: {str(answer)[:200]}")

    return send


@dataclass
class LoadClient:
    """Start with `start()`, stop with `stop()` (returns the report). Also a context manager."""

    kubeconfig: Path
    namespace: str
    service: str
    send: Callable[[Endpoint, float], None]
    scenario: str = "load"
    workers: int = 2
    refresh: float = 0.5
    timeout: float = 30.0
    _endpoints: list[Endpoint] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _sent: int = 0
    _succeeded: int = 0
    _failures: list[Failure] = field(default_factory=list)
    _gaps: list[Gap] = field(default_factory=list)
    _by_pod: Counter[str] = field(default_factory=Counter)
    _sets: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    _reads: int = 0
    _read_errors: int = 0
    _last_read: float = 0.0
    _longest_between_reads: float = 0.0
    _started: float = 0.0
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def _read(self, api: client.DiscoveryV1Api) -> list[Endpoint]:
        selector = f"kubernetes.io/service-name={self.service}"
        listed = api.list_namespaced_endpoint_slice(self.namespace, label_selector=selector, _request_timeout=10)
        slices = api.api_client.sanitize_for_serialization(listed)["items"]
        return endpoints_of_slices(slices)

    def _api(self) -> client.DiscoveryV1Api:
        api_client = config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
        return client.DiscoveryV1Api(api_client)

    def _reader(self) -> None:
        api = self._api()
        while not self._stop.is_set():
            try:
                found = self._read(api)
            except Exception:
                with self._lock:
                    self._read_errors += 1
                found = None
            if found is not None:
                self._update(found)
            self._stop.wait(self.refresh)

    def _update(self, found: list[Endpoint]) -> None:
        now = time.time()
        with self._lock:
            self._reads += 1
            if self._last_read:
                self._longest_between_reads = max(self._longest_between_reads, now - self._last_read)
            self._last_read = now
            pods = tuple(e.pod for e in found)
            if not self._sets or self._sets[-1][1] != pods:
                self._sets.append((now, pods))
            open_gap = bool(self._gaps) and self._gaps[-1].end is None
            if not found and not open_gap:
                self._gaps.append(Gap(now, None))
            elif found and open_gap:
                self._gaps[-1] = Gap(self._gaps[-1].start, now)
            self._endpoints = found

    def _pick(self) -> tuple[Endpoint | None, list[Endpoint]]:
        with self._lock:
            current = list(self._endpoints)
        if not current:
            return None, current
        return current[next(self._turn) % len(current)], current

    def _worker(self) -> None:
        while not self._stop.is_set():
            endpoint, _ = self._pick()
            if endpoint is None:
                self._stop.wait(0.05)  # nothing to send to: wait for the next read, not a retry
                continue
            try:
                self.send(endpoint, self.timeout)
            except Exception as exc:
                with self._lock:
                    listed = endpoint in self._endpoints
                    self._sent += 1
                    self._failures.append(Failure(time.time(), endpoint, classify(exc, listed)))
                continue
            with self._lock:
                self._sent += 1
                self._succeeded += 1
                self._by_pod[endpoint.pod] += 1

    def start(self) -> LoadClient:
        self._started = time.time()
        reader = threading.Thread(target=self._reader, name="load-endpoints", daemon=True)
        reader.start()
        self._threads = [reader]
        deadline = time.monotonic() + 30
        while not self._reads and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"load-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def succeeded_so_far(self) -> int:
        with self._lock:
            return self._succeeded

    def by_pod_so_far(self) -> dict[str, int]:
        """Successful requests per pod until now."""
        with self._lock:
            return dict(self._by_pod)

    def stop(self) -> LoadReport:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)
        stopped = time.time()
        with self._lock:
            return LoadReport(
                scenario=self.scenario,
                started=self._started,
                stopped=stopped,
                sent=self._sent,
                succeeded=self._succeeded,
                failures=list(self._failures),
                gaps=list(self._gaps),
                by_pod=dict(self._by_pod),
                endpoint_sets=list(self._sets),
                reads=self._reads,
                read_errors=self._read_errors,
                longest_between_reads=self._longest_between_reads,
            )
