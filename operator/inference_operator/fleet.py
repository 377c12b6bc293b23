"""The operator's in-process view of its fleet, for the gauges: phase and engine of every resource it reconciled."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from . import metrics


@dataclass
class Fleet:
    resources: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    builds: dict[tuple[str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def resource(self, namespace: str, name: str, phase: str | None, engine: str | None, ready: bool) -> None:
        """Record a reconciled resource (phase None: it is gone) and publish the gauges."""
        key = (namespace, name)
        with self._lock:
            if phase is None:
                self.resources.pop(key, None)
            else:
                self.resources[key] = (phase, engine or metrics.ENGINE_NONE)
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
        metrics.set_fleet(Counter(self.resources.values()), Counter(self.builds.values()))
