"""Starting the operator: kopf's settings in one place, then kopf's own loop."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from . import GROUP, handlers, metrics
from .apply import Kube
from .settings import OperatorSettings


def only_exact_namespaces(namespaces: list[str]) -> bool:
    """Whether every --namespace is a plain name: no kopf glob (*, ?), negation (!) or list (,)."""
    return bool(namespaces) and not any(c in ns for ns in namespaces for c in "*?!,")


def configure(kopf_settings: kopf.OperatorSettings, peering: str | None, exact_namespaces: bool = False) -> None:
    """kopf's knobs, chosen so the operator writes nothing to the user's object but its status."""
    # Progress and diff-base in status, not annotations: the user's object (and Argo CD's diff) stays untouched.
    kopf_settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    kopf_settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field="status.kopf.lastHandledConfiguration"
    )
    # Named namespaces need no cluster-wide list/watch of namespaces (the chart's Roles grant none); globs do.
    kopf_settings.scanning.disabled = exact_namespaces
    kopf_settings.persistence.finalizer = f"{GROUP}/finalizer"  # only used if a deletion handler ever appears
    # Watches end server-side before the client gives up, so a silently dead connection is noticed (kopf#698).
    kopf_settings.watching.server_timeout = 120
    kopf_settings.watching.client_timeout = 150
    kopf_settings.watching.connect_timeout = 10
    kopf_settings.watching.reconnect_backoff = 1.0
    # kopf's own per-handler Events would double ours; only its warnings and errors become Events.
    kopf_settings.posting.level = logging.WARNING
    kopf_settings.execution.max_workers = 16
    kopf_settings.batching.error_delays = (1, 2, 5, 10, 20, 30)
    if peering:
        kopf_settings.peering.name = peering
        kopf_settings.peering.mandatory = True
        kopf_settings.peering.clusterwide = True
    else:
        kopf_settings.peering.standalone = True


def run(
    settings: OperatorSettings,
    namespaces: list[str],
    clusterwide: bool,
    peering: str | None,
    priority: int = 0,
    verbose: bool = False,
    log_format: str = "full",
) -> None:
    """Run until stopped. Blocks."""
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat[log_format.upper()])
    kube = Kube.from_environment()
    handlers.install(kube, settings)
    metrics.start_metrics_server(settings.metrics_port)

    @kopf.on.startup()
    def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings, peering, exact_namespaces=not clusterwide and only_exact_namespaces(namespaces))

    kopf.run(
        standalone=peering is None,
        peering_name=peering,
        priority=priority,
        clusterwide=clusterwide,
        namespaces=namespaces,
        liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
    )
