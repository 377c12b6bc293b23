"""runtime/memory_probe.py: off unless asked for; asked for, SIGUSR2 writes the largest allocation sites."""

from __future__ import annotations

import os
import signal
import time
import tracemalloc
from pathlib import Path

from inference_operator.runtime import memory_probe


def test_without_the_variable_nothing_is_traced() -> None:
    assert memory_probe.install({}) is None


def test_sigusr2_writes_the_total_and_the_sites_largest_first(tmp_path: Path) -> None:
    out = tmp_path / "mem.txt"
    previous = signal.getsignal(signal.SIGUSR2)
    try:
        assert memory_probe.install({memory_probe.ENV: str(out)}) == out
        held = [bytearray(1000) for _ in range(2000)]  # about 2 MB from one line
        os.kill(os.getpid(), signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = out.read_text().splitlines()
        assert lines[0].startswith("total ") and len(lines) > 1
        sizes = [float(line.split()[0]) for line in lines[1:]]
        assert sizes == sorted(sizes, reverse=True)
        assert any("test_memory_probe.py" in line and float(line.split()[0]) >= 2.0 for line in lines[1:]), lines[:5]
        del held
    finally:
        tracemalloc.stop()
        signal.signal(signal.SIGUSR2, previous)
