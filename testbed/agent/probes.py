"""Startup, readiness and liveness probes run for real against a container's process, with the kubelet's timing."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def port_number(port: int | str, container: Mapping[str, Any]) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} is not a named port of container {container.get('name')}")


@dataclass
class Target:
    """Where a probe runs: the pod's address, and (for exec) how to enter the container."""

    pod_ip: str
    pid: int
    uid: int
    gid: int
    env: Mapping[str, str]


def run_probe(probe: Mapping[str, Any], container: Mapping[str, Any], target: Target) -> bool:
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "httpGet" in probe:
            return _http(probe["httpGet"], container, target, timeout)
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            host = spec.get("host") or target.pod_ip
            with socket.create_connection((host, port_number(spec["port"], container)), timeout=timeout):
                return True
        if "exec" in probe:
            return _exec(probe["exec"]["command"], target, timeout)
    except (OSError, ValueError, http.client.HTTPException, subprocess.TimeoutExpired):
        return False
    return False  # grpc probes are not supported: they fail, visibly


def _http(spec: Mapping[str, Any], container: Mapping[str, Any], target: Target, timeout: float) -> bool:
    host = spec.get("host") or target.pod_ip
    port = port_number(spec["port"], container)
    conn: http.client.HTTPConnection
    if str(spec.get("scheme", "HTTP")).upper() == "HTTPS":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"User-Agent": "kube-probe/testbed-node-agent", "Accept": "*/*"}
    headers.update({h["name"]: h["value"] for h in spec.get("httpHeaders") or []})
    try:
        conn.request("GET", spec.get("path") or "/", headers=headers)
        status = conn.getresponse().status
    finally:
        conn.close()
    return 200 <= status < 400


def _enter(target: Target) -> list[str]:
    """nsenter into the container's namespaces and root, as its user."""
    return ["nsenter", "-t", str(target.pid), "-n", "-m", "-r", "-w", "-S", str(target.uid), "-G", str(target.gid)]


def _exec(command: Sequence[str], target: Target, timeout: float) -> bool:
    """The command inside the container's namespaces and root, as its user, with its environment."""
    proc = subprocess.run(
        [*_enter(target), "--", *command], env=dict(target.env), capture_output=True, timeout=timeout, check=False
    )
    return proc.returncode == 0


@dataclass
class PreStopHook:
    """A container's preStop hook in progress, as the kubelet runs it before the stop signal: an `exec` command
    inside the container, or the `sleep` action. Other handlers (httpGet) are not supported: they end at once."""

    ends_at: float | None = None  # the sleep action
    proc: subprocess.Popen[bytes] | None = None  # the exec handler

    @classmethod
    def start(cls, handler: Mapping[str, Any], target: Target, now: float) -> PreStopHook:
        if "sleep" in handler:
            return cls(ends_at=now + float(handler["sleep"].get("seconds", 0)))
        if "exec" in handler:
            argv = [*_enter(target), "--", *handler["exec"]["command"]]
            proc = subprocess.Popen(
                argv,
                env=dict(target.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            return cls(proc=proc)
        return cls(ends_at=now)

    def done(self, now: float) -> bool:
        if self.proc is not None:
            return self.proc.poll() is not None
        return self.ends_at is None or now >= self.ends_at

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class ProbeState:
    """Consecutive results against the thresholds; `result` is what the kubelet would report."""

    spec: Mapping[str, Any]
    started_at: float
    result: bool
    successes: int = 0
    failures: int = 0
    next_at: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.next_at = self.started_at + float(self.spec.get("initialDelaySeconds", 0))

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def record(self, ok: bool, now: float) -> None:
        self.next_at = now + float(self.spec.get("periodSeconds", 10))
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= int(self.spec.get("successThreshold", 1)):
                self.result = True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= int(self.spec.get("failureThreshold", 3)):
                self.result = False


def new_probes(container: Mapping[str, Any], now: float | None = None) -> dict[str, ProbeState]:
    """The probes of a just-started container; readiness starts failed, startup unknown, liveness passing."""
    started = time.monotonic() if now is None else now
    initial = {"startupProbe": False, "readinessProbe": False, "livenessProbe": True}
    return {kind: ProbeState(container[kind], started, initial[kind]) for kind in initial if container.get(kind)}
