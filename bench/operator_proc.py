"""`inference-operator run --namespace NS` as a separate process, as it runs in its pod; its memory from /proc.

The process itself is the tests' OperatorProcess (tests/support/operator_process.py); the bench adds py-spy
sampling, memory and CPU.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.operator_process import OperatorProcess


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB (10^6 bytes): resident now, and its peak."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / 1e6
    return fields["VmRSS"], fields["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (fields 14 and 15 of /proc/<pid>/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Kubeconfig:
    path: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.path)}


class Operator(OperatorProcess):
    """One operator process watching one namespace; optionally sampled by py-spy."""

    def __init__(self, kubeconfig: Path, namespace: str, log_path: Path, profile_path: Path | None = None) -> None:
        args = ("--namespace", namespace, "--log-format", "plain")
        super().__init__(Kubeconfig(kubeconfig), log_path.parent, args=args, log_path=log_path)
        self.namespace = namespace
        self.profile_path = profile_path
        self.profiler: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        super().start(timeout)
        if self.profile_path is not None:
            self._start_profiler(self.profile_path)

    def _start_profiler(self, path: Path) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        # Raw collapsed stacks: the bench sums them per function itself (bench/profile.py); --idle off.
        cmd = [spy, "record", "--pid", str(self.pid), "--rate", "100", "--format", "raw", "-o", str(path)]
        self.profiler = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def memory(self) -> tuple[float, float]:
        return memory_mb(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.profiler is not None and self.profiler.poll() is None:
            self.profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                self.profiler.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        super().stop()
