"""kopf's settings in one place, chosen so the operator writes nothing to the user's object but its status."""

from __future__ import annotations

import logging

import kopf

from .. import GROUP
from .storage import ObservedGenerationDiffBase

# Reconcile threads (the work queue's, and kopf's pool for its few sync handlers); as many API connections.
MAX_WORKERS = 16
API_RETRY_BACKOFFS = (1, 1, 2, 3, 5, 5, 5, 5, 5, 5, 5, 5)
# Keep-alives every 5-10 s (kopf sends them 5-10 s before the lifetime ends).
PEERING_LIFETIME_SECONDS = 15


def only_exact_namespaces(namespaces: list[str]) -> bool:
    """Whether every --namespace is a plain name: no kopf glob (*, ?), negation (!) or list (,)."""
    return bool(namespaces) and not any(c in ns for ns in namespaces for c in "*?!,")


def configure(kopf_settings: kopf.OperatorSettings, peering: str | None, exact_namespaces: bool = False) -> None:
    """kopf's knobs, chosen so the operator writes nothing to the user's object but its status."""
    # Progress in status, not annotations: the user's object (and Argo CD's diff) stays untouched; it is
    # written only while a handler retries. The diff-base is status.observedGeneration: never written by kopf.
    kopf_settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    kopf_settings.persistence.diffbase_storage = ObservedGenerationDiffBase()
    kopf_settings.persistence.finalizer = f"{GROUP}/finalizer"  # only used if a deletion handler ever appears
    # Named namespaces need no cluster-wide list/watch of namespaces (the chart's Roles grant none); globs do.
    kopf_settings.scanning.disabled = exact_namespaces
    # Watches end server-side before the client gives up, so a silently dead connection is noticed (kopf#698).
    kopf_settings.watching.server_timeout = 120
    kopf_settings.watching.client_timeout = 150
    kopf_settings.watching.connect_timeout = 10
    kopf_settings.watching.reconnect_backoff = 1.0
    # Retries of a failed API request (a watch too) come at most 5 s apart, so the operator is back within
    # seconds of an API server outage; kopf's default climbs to 13 and 21 s (then starts over).
    kopf_settings.networking.error_backoffs = API_RETRY_BACKOFFS
    # kopf's own per-handler Events would double ours; only its warnings and errors become Events.
    kopf_settings.posting.level = logging.WARNING
    kopf_settings.execution.max_workers = MAX_WORKERS
    kopf_settings.batching.error_delays = (1, 2, 5, 10, 20, 30)
    if peering:
        kopf_settings.peering.name = peering
        kopf_settings.peering.mandatory = True
        kopf_settings.peering.clusterwide = True
        # A killed replica's keep-alive counts until it expires: a standby takes over within this (kopf: 60 s).
        kopf_settings.peering.lifetime = PEERING_LIFETIME_SECONDS
    else:
        kopf_settings.peering.standalone = True
