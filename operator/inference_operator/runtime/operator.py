"""Starting the operator: the client, the state in kopf's memo, kopf's settings, then kopf's own loop."""

from __future__ import annotations

import random
import time
from typing import Any

import kopf

from ..api.settings import OperatorSettings
from ..controller.context import Context
from ..kube.client import Kube
from ..metrics import operator as metrics
from . import handlers  # noqa: F401 - importing registers the handlers with kopf
from .kopf_settings import MAX_WORKERS, configure, only_exact_namespaces
from .reconciler import MEMO_KEY, OperatorState


def seniority_priority(started: float) -> int:
    """The peering priority of a replica started at `started` (Unix time), when --priority is not given.

    kopf lets the highest priority work and pauses everyone on a tie, so the replicas of one Deployment, which
    share their arguments, must differ: the earliest started works (a restarted replica comes back as the
    standby instead of taking over), and a random last three digits part two started in the same millisecond.
    """
    return -(int(started * 1000) * 1000 + random.randrange(1000))


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
    state = OperatorState.create(Context(kube=kube, settings=settings), workers=MAX_WORKERS)
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
        memo=kopf.Memo({MEMO_KEY: state}),
    )
