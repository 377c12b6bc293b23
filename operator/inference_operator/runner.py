"""Starting the operator: kopf's settings in one place, then kopf's own loop."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from typing import Any, cast

import kopf

from . import GROUP, handlers, metrics
from .apply import Kube
from .settings import OperatorSettings

# Reconcile threads (the work queue's, and kopf's pool for its few sync handlers); as many API connections.
MAX_WORKERS = 16
API_RETRY_BACKOFFS = (1, 1, 2, 3, 5, 5, 5, 5, 5, 5, 5, 5)
# Keep-alives every 5-10 s (kopf sends them 5-10 s before the lifetime ends).
PEERING_LIFETIME_SECONDS = 15


def seniority_priority(started: float) -> int:
    """The peering priority of a replica started at `started` (Unix time), when --priority is not given.

    kopf lets the highest priority work and pauses everyone on a tie, so the replicas of one Deployment, which
    share their arguments, must differ: the earliest started works (a restarted replica comes back as the
    standby instead of taking over), and a random last three digits part two started in the same millisecond.
    """
    return -(int(started * 1000) * 1000 + random.randrange(1000))


class ObservedGenerationDiffBase(kopf.DiffBaseStorage):
    """kopf's diff-base without a write: the last handled spec is the one `status.observedGeneration` names.

    Every reconcile that handles a generation writes it to status.observedGeneration (a write it makes anyway),
    so a body whose status has caught up with its generation is unchanged (NOOP, or RESUME at start) and any
    other is handled afresh (CREATE: one handler serves create, update and resume alike). kopf's own
    diff-base would cost one more PATCH of every new or changed resource.
    """

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        if not str(body.get("apiVersion", "")).startswith(f"{GROUP}/"):
            return None  # Deployments, pods: no change handlers, nothing to compare (and nothing to copy)
        status = body.get("status") or {}
        if status.get("observedGeneration") == body.get("metadata", {}).get("generation"):
            return self.build(body=body)
        return None

    def build(self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None) -> kopf.BodyEssence:
        """kopf's essence, without first deep-copying the status and metadata it then drops (most of a body)."""
        if extra_fields:
            return super().build(body=body, extra_fields=extra_fields)
        meta = body.get("metadata", {})
        kept = {key: value for key, value in body.items() if key not in ("status", "metadata")}
        kept["metadata"] = {key: meta[key] for key in ("labels", "annotations") if key in meta}
        return super().build(body=kopf.Body(cast(kopf.RawBody, kept)))

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Nothing to write: the reconcile's status write recorded the handled generation."""


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


def run(
    settings: OperatorSettings,
    namespaces: list[str],
    clusterwide: bool,
    peering: str | None,
    priority: int | None = None,
    verbose: bool = False,
    log_format: str = "full",
) -> None:
    """Run until stopped. Blocks."""
    if priority is None:
        priority = seniority_priority(time.time())
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat[log_format.upper()])
    kube = Kube.from_environment(connections=MAX_WORKERS)
    handlers.install(kube, settings, workers=MAX_WORKERS)
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
