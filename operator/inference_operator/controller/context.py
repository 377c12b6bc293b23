"""What every reconcile shares for the life of the operator process (kept in kopf's memo by the runtime)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api.settings import OperatorSettings
from ..kube.protocol import Client
from ..metrics.fleet_gauges import Fleet
from .inference_deployment.revision import HubReply

MONITORING_API = "monitoring.coreos.com/v1"


@dataclass
class Users:
    """Which resources of a namespace use which shared object (an EngineBuild, a weight cache entry), so the
    object's events trigger only those. Rebuilt by the resume handlers at start (every resource reconciles)."""

    _users: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, namespace: str, used: str) -> list[str]:
        with self._lock:
            return sorted(self._users.get((namespace, used), set()))

    def use(self, namespace: str, name: str, used: str | None) -> None:
        """Record what a resource uses now (None: nothing); an object nobody uses is forgotten."""
        with self._lock:
            for key in [k for k in self._users if k[0] == namespace]:
                self._users[key].discard(name)
                if not self._users[key]:
                    del self._users[key]
            if used is not None:
                self._users.setdefault((namespace, used), set()).add(name)


@dataclass
class Context:
    kube: Client
    settings: OperatorSettings
    fleet: Fleet = field(default_factory=Fleet)
    # Whether the monitoring API is served; None: ask the API server at the next reconcile that needs it.
    monitoring_api: bool | None = None
    # Whether the operator may list Nodes (the GPU-product check of builds); False once the API server said 403,
    # so the fallback is logged once. None: not asked yet.
    nodes_readable: bool | None = None
    # Reads a download pod's progress endpoint (controller/weight_cache/progress.read_progress); None: never read.
    read_progress: Callable[[str], dict[str, Any] | None] | None = None
    # EngineBuild (namespace, name) -> InferenceDeployments using it.
    _build_users: Users = field(default_factory=Users)
    # WeightCache entry (namespace, name) -> InferenceDeployments asking for it.
    _entry_users: Users = field(default_factory=Users)
    # Asks the Hub which commit (model, revision) is (controller/inference_deployment/hub.HubClient.revision);
    # None: never asked, the revision as written is the weight cache key (unit tests).
    ask_hub: Callable[[str, str], HubReply] | None = None

    def monitoring_served(self) -> bool:
        if self.monitoring_api is None:
            self.monitoring_api = self.kube.served(MONITORING_API)
        return self.monitoring_api

    def users_of(self, namespace: str, build: str) -> list[str]:
        return self._build_users.of(namespace, build)

    def use_build(self, namespace: str, name: str, build: str | None) -> None:
        """Record which EngineBuild a resource uses now (None: none); a build nobody uses is forgotten."""
        self._build_users.use(namespace, name, build)

    def entry_users_of(self, namespace: str, entry: str) -> list[str]:
        return self._entry_users.of(namespace, entry)

    def use_entry(self, namespace: str, name: str, entry: str | None) -> None:
        """Record which weight cache entry a resource asks for now (None: none)."""
        self._entry_users.use(namespace, name, entry)
