"""`inference-operator run` as a child process, for the e2e tests and the bench alike."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from .cluster import free_port, wait_for


class HasEnv(Protocol):
    """Where the operator finds its cluster: the environment to start it with (KUBECONFIG)."""

    @property
    def env(self) -> dict[str, str]: ...


class OperatorProcess:
    """`inference-operator run` as a child process, as it runs in a pod: killable, restartable, its log kept."""

    def __init__(
        self,
        cluster: HasEnv,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = ("--all-namespaces",),
        log_path: Path | None = None,
    ) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.extra_env = extra_env or {}
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.log_path = log_path or workdir / "operator.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
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
        wait_for("the operator's liveness endpoint", self._alive, timeout=timeout)

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

    def signal(self, signum: signal.Signals, timeout: float) -> int | None:
        """Send `signum` and wait up to `timeout` s for the exit: its code, or None if it still ran (then SIGKILL)."""
        assert self.proc is not None and self.proc.poll() is None, "the operator is not running"
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
