"""Writes of one InferenceDeployment's reconcile, in the order that keeps an endpoint ready. I/O only.

Order: the EngineBuild (and its store) first; then the Service, before any Deployment changes (a Recreate
rollout stops the pods it routed to at once); then the Deployments the plan applies and the autoscaler; deletes
last, after the Service points elsewhere; then the PodMonitor; the status and Events at the very end.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from ... import SEED_FIELD_MANAGER
from ...api.inference_deployment import Engine
from ...kube.errors import NotFound
from ...kube.protocol import Client
from ...metrics import operator as metrics
from ..plan import Action
from .desired import KIND, Children, Intent, StatusUpdate, World

Logger = logging.Logger | logging.LoggerAdapter[Any]


def ensure_build(kube: Client, intent: Intent, world: World, logger: Logger, start: bool = True) -> World:
    """The engine store and the EngineBuild exist (create if absent: another resource may share them); the
    EngineBuild only when `start` (not while the weight cache entry it reads is incomplete). An EngineBuild
    read means both were made: no create is tried (a restart of a converged fleet writes nothing)."""
    assert intent.store is not None and intent.engine_build is not None
    if world.build is not None:
        return world
    kube.create_if_absent(intent.store)
    if not start:
        return world
    created = kube.create_if_absent(intent.engine_build)
    name = intent.engine_build["metadata"]["name"]
    logger.info("engine build %s requested for %s", name, intent.infd.metadata["name"])
    return dataclasses.replace(world, build=created)


def ensure_weight_cache(kube: Client, intent: Intent, world: World, logger: Logger) -> World:
    """The WeightCache entry exists (create if absent: the first requester's settings fill it)."""
    assert intent.weight_cache is not None
    if world.weight_cache is not None:
        return world
    created = kube.create_if_absent(intent.weight_cache)
    logger.info(
        "weight cache entry %s requested for %s", intent.weight_cache["metadata"]["name"], intent.infd.metadata["name"]
    )
    return dataclasses.replace(world, weight_cache=created)


@dataclasses.dataclass(frozen=True)
class Written:
    deployments: dict[Engine, dict[str, Any] | None]  # as the writes left them
    monitoring_gone: bool = False  # the PodMonitor API vanished meanwhile: ask again next time


def write_children(kube: Client, children: Children) -> Written:
    kube.apply(children.service, children.observed_service)
    now: dict[Engine, dict[str, Any] | None] = {}
    for write in children.deployments:
        if write.action is Action.APPLY:
            assert write.manifest is not None
            observed = write.observed
            if write.seed is not None:  # its replicas under a manager of their own: the HPA takes them over
                observed = kube.create_if_absent(write.seed, SEED_FIELD_MANAGER)
            elif write.handover is not None:
                observed = kube.apply(write.handover, field_manager=SEED_FIELD_MANAGER)
            now[write.engine] = kube.apply(write.manifest, observed)
        else:
            now[write.engine] = write.observed if write.action is Action.KEEP else None
    # After the Deployments (it may target the one just created), before the deletes (it leaves the retired one).
    if children.autoscaler is not None:
        kube.apply(children.autoscaler, children.observed_autoscaler)
    elif children.delete_autoscaler and children.observed_autoscaler is not None:
        meta = children.observed_autoscaler["metadata"]
        kube.delete("HorizontalPodAutoscaler", meta["namespace"], meta["name"])
    for write in children.deployments:
        if write.action is Action.DELETE and write.observed is not None:
            meta = write.observed["metadata"]
            kube.delete(str(write.observed.get("kind") or "Deployment"), meta["namespace"], meta["name"])
    for stale in children.stale:  # the other kind of a workload whose shape changed (pod <-> group)
        meta = stale["metadata"]
        kube.delete(str(stale["kind"]), meta["namespace"], meta["name"])
    return Written(now, monitoring_gone=not _write_pod_monitor(kube, children))


def _write_pod_monitor(kube: Client, children: Children) -> bool:
    """Apply or delete the PodMonitor; False when its API is no longer served (then serve on regardless)."""
    try:
        if children.pod_monitor is not None:
            kube.apply(children.pod_monitor, children.observed_pod_monitor)
        elif children.delete_pod_monitor and children.observed_pod_monitor is not None:
            meta = children.observed_pod_monitor["metadata"]
            kube.delete("PodMonitor", meta["namespace"], meta["name"])
    except NotFound:
        return False
    return True


def pin_resolution(kube: Client, body: dict[str, Any], weights: dict[str, Any]) -> None:
    """status.weights with the revision just resolved, ahead of the entry it names (revision.early_pin)."""
    meta, previous = body["metadata"], (body.get("status") or {}).get("weights") or {}
    kube.patch_status(KIND, meta["namespace"], meta["name"], {"weights": weights}, {"weights": previous})


def write_status(kube: Client, body: dict[str, Any], update: StatusUpdate) -> None:
    """The status, only when it changed, then its Events; a new engine decision is counted."""
    if not update.changed:
        return
    meta = body["metadata"]
    kube.patch_status(KIND, meta["namespace"], meta["name"], update.status, body.get("status") or {})
    for event in update.events:
        kube.event(body, event.type, event.reason, event.message)
    if update.selection is not None:
        metrics.record_selection(*update.selection)
