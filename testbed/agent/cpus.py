"""CPU sets for the pods of the process nodes, as a kubelet's CPU manager gives containers theirs.

Without one, every pod sees all the host's CPUs, and vLLM's CPU build pins its worker the same way in each:
its automatic OpenMP binding (VLLM_CPU_OMP_THREADS_BIND=auto, vllm/utils/ompmultiprocessing.py at v0.32.0) takes
the CPUs in the process's affinity mask, keeps one for the engine's other processes and binds to the rest. On a
2-core host that is core 0 for every pod: three replicas and a starting pod all compete for one core while the
other idles. A real node gives each pod a cpuset of its own (the CPU manager's static policy, or one node per
pod); this allocator does what it can with the cores the host has: each pod gets the cores its CPU request asks
for (rounded up, at least one, at most all), the least used ones first. Cores are shared between pods when the
pods ask for more than the host has (a real static policy would leave such a pod Pending instead).
"""

from __future__ import annotations

import math
import os
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any


def cpu_quantity(value: object) -> float:
    """A Kubernetes CPU quantity ("500m", "2", 1.5) in cores; raises ValueError on anything else."""
    text = str(value).strip()
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


def cores_requested(containers: Iterable[Mapping[str, Any]]) -> int:
    """Whole cores a pod's containers ask for: the sum of their CPU requests (or limits, when only a limit is set,
    as the API server defaults the request to it), rounded up; 1 when none asks."""
    total = 0.0
    for c in containers:
        resources = c.get("resources") or {}
        cpu = (resources.get("requests") or {}).get("cpu", (resources.get("limits") or {}).get("cpu"))
        if cpu is not None:
            try:
                total += cpu_quantity(cpu)
            except ValueError:
                continue  # the API server admitted it, so a form this parser lacks: count no cores for it
    return max(1, math.ceil(total - 1e-9))


class CpuSets:
    """Hands out CPU sets keyed by pod uid; thread-safe (pod workers run on threads of their own)."""

    def __init__(self, cpus: Iterable[int] | None = None) -> None:
        self.cpus = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
        self._given: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def assign(self, key: str, cores: int) -> list[int]:
        with self._lock:
            if key in self._given:
                return self._given[key]
            use = Counter({cpu: 0 for cpu in self.cpus})
            for given in self._given.values():
                use.update(given)
            count = min(max(1, cores), len(self.cpus))
            chosen = sorted(sorted(self.cpus, key=lambda cpu: (use[cpu], cpu))[:count])
            self._given[key] = chosen
            return chosen

    def release(self, key: str) -> None:
        with self._lock:
            self._given.pop(key, None)

    def in_use(self) -> dict[str, list[int]]:
        with self._lock:
            return dict(self._given)
