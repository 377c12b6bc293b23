"""kopf handlers: each names what triggered it and hands a key to the work queue (reconciler.py). Thin.

Both kinds go through the queue: the handlers are async and only hand it a key, so kopf's per-object workers
never wait for a thread while holding watch events. The operator's state comes from kopf's memo.

InferenceDeployments, serving Deployments and Services feed the read cache from kopf's watches (kube/cache.py), so
a reconcile reads them from memory once kopf has delivered them. kopf's indexes would hold every handler until
the listings are in, but their barrier does not scale: at N = 3,000 a restarted operator spent minutes of CPU in
kopf's ToggleSet (every object's toggle wakes every waiting object) before the first handler ran.
"""

from __future__ import annotations

from typing import Any

import kopf

from .. import GROUP, VERSION
from ..api.labels import (
    BUILD_LABELS,
    LABEL_BUILD,
    LABEL_COMPONENT,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    SERVING_LABELS,
)
from ..controller.engine_build.desired import NODE_RECHECK_SECONDS, waiting_for_a_node
from ..controller.facts import deployment_facts
from ..controller.groups import GROUP_RECHECK_SECONDS
from ..controller.weight_cache.progress import PROGRESS_REQUEUE_SECONDS
from ..render.weight_cache import COMPONENT_WEIGHT_CACHE, LABEL_WEIGHT_CACHE
from .reconciler import ENGINE_BUILD, INFERENCE_DEPLOYMENT, WEIGHT_CACHE, OperatorState, state_of

INFD = (GROUP, VERSION, "inferencedeployments")
EB = (GROUP, VERSION, "enginebuilds")
SERVING = SERVING_LABELS
BUILD = BUILD_LABELS
WC = (GROUP, VERSION, "weightcaches")
WEIGHTS = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_WEIGHT_CACHE}


def _label(body: kopf.Body, key: str) -> str | None:
    value = body.get("metadata", {}).get("labels", {}).get(key)
    return str(value) if value else None


@kopf.on.event(*INFD)
async def on_inference_deployment_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Every event of the watch kopf keeps anyway feeds the cache, so reconciles read no InferenceDeployment.

    async: it runs in kopf's loop, before the change handlers of the same event, and costs no thread.
    """
    state_of(memo).ctx.kube.observe(dict(body), deleted=type == "DELETED")


@kopf.on.resume(*INFD)
@kopf.on.create(*INFD)
@kopf.on.update(*INFD, field="spec")
async def on_inference_deployment(
    name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, retry: int, **_: Any
) -> None:
    await state_of(memo).reconcile(INFERENCE_DEPLOYMENT, namespace, name, logger, retry)


@kopf.on.event("apps", "v1", "deployments", labels=SERVING)
async def on_serving_deployment(
    body: kopf.Body, type: str | None, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """Most events are the echo of the operator's own apply or status fields nothing reads: those cost no
    reconcile. A change of spec (generation), of readiness, or a deletion does, so drift is still put right."""
    state = state_of(memo)
    obj = dict(body)
    before = state.ctx.kube.observe(obj, type == "DELETED")
    _trigger_parent(state, body, type, namespace, before, deployment_facts(before) != deployment_facts(obj), logger)


@kopf.on.event("", "v1", "services", labels=SERVING)
async def on_serving_service(
    body: kopf.Body, type: str | None, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """The Service in front of a resource, into the cache the same way. Deleted or edited by someone else, the
    parent applies it again; our own apply's echo carries the spec the cache already has and costs nothing."""
    state = state_of(memo)
    obj = dict(body)
    before = state.ctx.kube.observe(obj, type == "DELETED")
    changed = before is None or before.get("spec") != obj.get("spec")
    _trigger_parent(state, body, type, namespace, before, changed, logger)


def _trigger_parent(
    state: OperatorState,
    body: kopf.Body,
    type: str | None,
    namespace: str | None,
    before: dict[str, Any] | None,
    changed: bool,
    logger: kopf.Logger,
) -> None:
    """A serving child's deletion or change triggers its parent, except a child first seen in kopf's listing
    (event type None, nothing cached before): that is a start, where every parent is resumed by its own handler,
    and one reconcile per resource is what a restart costs."""
    parent = _label(body, LABEL_DEPLOYMENT)
    listed_at_start = type is None and before is None
    if parent and (type == "DELETED" or (changed and not listed_at_start)):
        state.trigger(INFERENCE_DEPLOYMENT, namespace, parent, logger)


@kopf.on.event("leaderworkerset.x-k8s.io", "v1", "leaderworkersets", labels=SERVING)
async def on_serving_leader_worker_set(
    body: kopf.Body, type: str | None, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """A multi-node group set (sigs.k8s.io/lws, when installed): its group counts feed the parent's status."""
    parent = _label(body, LABEL_DEPLOYMENT)
    if parent and (type == "DELETED" or "status" in body):
        state_of(memo).trigger(INFERENCE_DEPLOYMENT, namespace, parent, logger)


def _groups_incomplete(spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    groups = status.get("groups") or {}
    return bool(groups) and (
        bool(groups.get("heldBack")) or int(groups.get("ready") or 0) < int(spec.get("replicas", 1))
    )


@kopf.timer(*INFD, interval=GROUP_RECHECK_SECONDS, initial_delay=GROUP_RECHECK_SECONDS, when=_groups_incomplete)
async def on_groups_incomplete(
    name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """Multi-node groups wait or are held back (controller/groups.py): a placement timeout or a retry falls due
    with no event to announce it, so look again while the status says so."""
    state_of(memo).trigger(INFERENCE_DEPLOYMENT, namespace, name, logger)


def _unschedulable(body: kopf.Body, **_: Any) -> bool:
    conditions = body.get("status", {}).get("conditions") or []
    return any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions)


@kopf.on.event("", "v1", "pods", labels=SERVING, when=_unschedulable)
async def on_unschedulable_pod(
    body: kopf.Body, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """The scheduler's verdict lands on the pod, not on the Deployment: surface it in the parent's status."""
    parent = _label(body, LABEL_DEPLOYMENT)
    if parent:
        state_of(memo).trigger(INFERENCE_DEPLOYMENT, namespace, parent, logger)


@kopf.on.resume(*EB)
@kopf.on.create(*EB)
async def on_engine_build(name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any) -> None:
    await state_of(memo).reconcile(ENGINE_BUILD, namespace, name, logger)


def _waiting_for_a_node(status: kopf.Status, **_: Any) -> bool:
    return waiting_for_a_node(dict(status))


@kopf.timer(*EB, interval=NODE_RECHECK_SECONDS, initial_delay=NODE_RECHECK_SECONDS, when=_waiting_for_a_node)
async def on_build_waiting_for_a_node(
    name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """No node had the build's GPU product: look again while the status says so (kopf stops the timer once it
    does not), so a node that joins later lets the build proceed. Nothing is written while nothing changed."""
    state_of(memo).trigger(ENGINE_BUILD, namespace, name, logger)


@kopf.on.event("batch", "v1", "jobs", labels=BUILD)
async def on_build_job(body: kopf.Body, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any) -> None:
    build = _label(body, LABEL_BUILD)
    if build:
        state_of(memo).trigger(ENGINE_BUILD, namespace, build, logger)


@kopf.on.event("", "v1", "pods", labels=BUILD)
async def on_build_pod(body: kopf.Body, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any) -> None:
    """The scheduler's verdict and the container's start land on the pod, not on the Job: a build is Pending
    with the reason while its pod cannot be placed, and Building only once the container runs."""
    build = _label(body, LABEL_BUILD)
    if build:
        state_of(memo).trigger(ENGINE_BUILD, namespace, build, logger)


def _finished(body: kopf.Body, **_: Any) -> bool:
    return body.get("status", {}).get("phase") in ("Succeeded", "Failed")


@kopf.on.event(*EB, when=_finished)
async def on_build_finished(name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any) -> None:
    """A build finished or failed: every InferenceDeployment using it moves on (cut-over or fallback)."""
    state = state_of(memo)
    for user in state.ctx.users_of(namespace or "", name):
        state.trigger(INFERENCE_DEPLOYMENT, namespace, user, logger)


@kopf.on.resume(*WC)
@kopf.on.create(*WC)
async def on_weight_cache(name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any) -> None:
    await state_of(memo).reconcile(WEIGHT_CACHE, namespace, name, logger)


@kopf.on.event("batch", "v1", "jobs", labels=WEIGHTS)
@kopf.on.event("", "v1", "pods", labels=WEIGHTS)
async def on_weight_cache_child(
    body: kopf.Body, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """The download Job and its pods move the entry's phase (a failed pod's exit code names the cause)."""
    entry = _label(body, LABEL_WEIGHT_CACHE)
    if entry:
        state_of(memo).trigger(WEIGHT_CACHE, namespace, entry, logger)


def _downloading(body: kopf.Body, **_: Any) -> bool:
    return bool(body.get("status", {}).get("phase") == "Downloading")


@kopf.timer(*WC, interval=PROGRESS_REQUEUE_SECONDS, initial_delay=PROGRESS_REQUEUE_SECONDS, when=_downloading)
async def on_weight_cache_downloading(
    name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """While an entry downloads, requeue it to read the pod's bytes done / total (the pod cannot write them)."""
    state_of(memo).trigger(WEIGHT_CACHE, namespace, name, logger)


@kopf.on.field(*WC, field="status.bytesDone")
@kopf.on.field(*WC, field="status.phase")
async def on_weight_cache_phase(
    name: str, namespace: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any
) -> None:
    """An entry progressed, completed or failed: the resources asking for it move on (start serving from it, say
    how far it is, or say why not). Only those: bytesDone changes every 10 s while an entry downloads."""
    state = state_of(memo)
    for user in state.ctx.entry_users_of(namespace or "", name):
        state.trigger(INFERENCE_DEPLOYMENT, namespace, user, logger)


def _is_pod_monitor_crd(name: str, **_: Any) -> bool:
    return name == "podmonitors.monitoring.coreos.com"


@kopf.on.event("apiextensions.k8s.io", "v1", "customresourcedefinitions", when=_is_pod_monitor_crd)
async def on_monitoring_crd(body: kopf.Body, type: str | None, logger: kopf.Logger, memo: kopf.Memo, **_: Any) -> None:
    """Scraping is wired up when the monitoring API appears later, without a restart.

    The CRD's own Established condition is trusted: API discovery can lag it by a moment, and no later event
    would come to look again. Every known resource is queued, not reconciled here.
    """
    conditions = body.get("status", {}).get("conditions") or []
    established = type != "DELETED" and any(
        c.get("type") == "Established" and c.get("status") == "True" for c in conditions
    )
    state = state_of(memo)
    if state.ctx.monitoring_api or not established:
        return
    state.ctx.monitoring_api = True
    logger.info("the monitoring.coreos.com/v1 API is now served: creating PodMonitors")
    for namespace, name in state.ctx.fleet.known():
        state.trigger(INFERENCE_DEPLOYMENT, namespace, name, logger)


# The handlers that only feed the cache or hand a key to the queue: kopf's success line after each call of one is
# left out of the log (runtime/operator.py) unless the operator runs with --verbose.
ROUTINE = (
    "on_inference_deployment_event",
    "on_serving_deployment",
    "on_serving_service",
    "on_serving_leader_worker_set",
    "on_unschedulable_pod",
    "on_build_job",
    "on_build_pod",
    "on_weight_cache_child",
)
ROUTINE_SUCCESS_LINES = frozenset(f"Handler {name!r} succeeded." for name in ROUTINE)
