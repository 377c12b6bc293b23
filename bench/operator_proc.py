"""`inference-operator run --namespace NS` as a separate process, as it runs in its pod; its memory from /proc."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB (10^6 bytes): resident now, and its peak."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / 1e6
    return fields["VmRSS"], fields["VmHWM"]


class Operator:
    """One operator process watching one namespace; optionally sampled by py-spy."""

    def __init__(self, kubeconfig: Path, namespace: str, log_path: Path, profile_path: Path | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_path
        self.profile_path = profile_path
        self.health_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.profiler: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "INFOP_METRICS_PORT": str(_free_port()),
            "INFOP_HEALTH_PORT": str(self.health_port),
        }
        log = self.log_path.open("ab")
        cmd = [sys.executable, "-m", "inference_operator.cli", "run", "--namespace", self.namespace]
        self.proc = subprocess.Popen([*cmd, "--log-format", "plain"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._alive():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the operator did not come up in {timeout:.0f}s; see {self.log_path}")
            time.sleep(0.2)
        if self.profile_path is not None:
            self._start_profiler(self.profile_path)

    def _start_profiler(self, path: Path) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        # Raw collapsed stacks: the bench sums them per function itself (bench/profile.py); --idle off.
        cmd = [spy, "record", "--pid", str(self.pid), "--rate", "100", "--format", "raw", "-o", str(path)]
        self.profiler = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the operator exited with {self.proc.returncode}; see {self.log_path}")
        try:
            with socket.create_connection(("127.0.0.1", self.health_port), timeout=1):
                return True
        except OSError:
            return False

    def memory(self) -> tuple[float, float]:
        return memory_mb(self.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time so far (fields 14 and 15 of /proc/<pid>/stat, in clock ticks)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.profiler is not None and self.profiler.poll() is None:
            self.profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                self.profiler.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
