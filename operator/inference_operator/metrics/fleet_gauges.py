"""The operator's in-process view of its fleet, for the gauges: phase and engine of every resource it reconciled."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from . import operator as metrics


@dataclass
class Fleet:
    resources: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    builds: dict[tuple[str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Kept as resources change, so a reconcile costs no count over the whole fleet (that was O(N) each).
    _by_phase: Counter[tuple[str, str]] = field(default_factory=Counter)

    def resource(self, namespace: str, name: str, phase: str | None, engine: str | None, ready: bool) -> None:
        """Record a reconciled resource (phase None: it is gone) and publish the gauges."""
        key = (namespace, name)
        new = None if phase is None else (phase, engine or metrics.ENGINE_NONE)
        with self._lock:
            old = self.resources.pop(key, None)
            if new is not None:
                self.resources[key] = new
            if old != new:
                self._by_phase.subtract([old] if old else [])
                self._by_phase.update([new] if new else [])
                self._publish()
        if phase is None or phase == "Suspended":
            metrics.forget_resource(namespace, name)
        else:
            metrics.set_resource_ready(namespace, name, engine, ready)

    def build(self, namespace: str, name: str, phase: str | None) -> None:
        with self._lock:
            if phase is None:
                self.builds.pop((namespace, name), None)
            else:
                self.builds[(namespace, name)] = phase
            self._publish()

    def known(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self.resources)

    def _publish(self) -> None:
        metrics.set_fleet(+self._by_phase, Counter(self.builds.values()))
