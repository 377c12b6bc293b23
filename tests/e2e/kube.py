"""What e2e tests use to talk to the cluster (kubectl, as a user would) and to run the operator process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.25) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last seen: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    kubeconfig: Path
    kubectl_bin: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below, with kubectl's message
            [str(self.kubectl_bin), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def apply(
        self, obj: dict[str, Any] | str, namespace: str, *extra: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        text = obj if isinstance(obj, str) else yaml.safe_dump(obj)
        return self.kubectl("apply", "-n", namespace, "-f", "-", *extra, input=text, check=check)

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        proc = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name}: {proc.stderr.strip()}")
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-n", namespace, "-o", "json"]
        if selector:
            args += ["-l", selector]
        items: list[dict[str, Any]] = json.loads(self.kubectl(*args).stdout)["items"]
        return items

    def status(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        obj = self.get(kind, name, namespace) or {}
        status: dict[str, Any] = obj.get("status") or {}
        return status

    def wait_established(self, crd: str, timeout: float = 60.0) -> None:
        """Poll a CRD until Established; `kubectl wait` errors out instead while the CRD has no conditions yet."""

        def established() -> bool:
            conditions = (self.get("crd", crd, "default") or {}).get("status", {}).get("conditions") or []
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        wait_for(f"CRD {crd} Established", established, timeout=timeout)

    def condition(self, kind: str, name: str, namespace: str, ctype: str) -> dict[str, Any] | None:
        for cond in self.status(kind, name, namespace).get("conditions") or []:
            if cond.get("type") == ctype:
                return dict(cond)
        return None

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            e for e in self.items("events", namespace) if not name or e.get("involvedObject", {}).get("name") == name
        ]


class OperatorProcess:
    """`inference-operator run` as a child process, as it runs in a pod: killable, restartable, its log kept."""

    def __init__(
        self,
        cluster: Cluster,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = ("--all-namespaces",),
    ) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.extra_env = extra_env or {}
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.log_path = workdir / "operator.log"

    def start(self) -> None:
        env = {
            **self.cluster.env,
            "INFOP_METRICS_PORT": str(self.metrics_port),
            "INFOP_HEALTH_PORT": str(self.health_port),
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "inference_operator.cli", "run", *self.args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        wait_for("the operator's liveness endpoint", self._alive, timeout=60)

    def _alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the operator exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.health_port), timeout=1):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a node dies or the OOM killer strikes."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
