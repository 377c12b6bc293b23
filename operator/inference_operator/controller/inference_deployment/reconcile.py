"""One level-based reconcile of an InferenceDeployment: observe -> desired -> act, twice over.

First the children (observe.read_world, desired.children, act.write_children), then the status of the children
as the writes left them (desired.status_update, act.write_status). The runtime calls this from its work queue,
which never runs two reconciles of one resource at once, and counts every outcome.
"""

from __future__ import annotations

import logging
from typing import Any

from ...api.errors import InvalidSpec, RetryLater
from ...api.timestamps import utc_now
from ...kube.errors import KubeError
from ..context import Context
from . import act, desired, observe, revision

Logger = logging.Logger | logging.LoggerAdapter[Any]

# The API server echoes the offending value in its message, and a value can be a megabyte long.
REFUSAL_MESSAGE_MAX = 1000


def reconcile_inference_deployment(ctx: Context, namespace: str, name: str, logger: Logger) -> str | None:
    """Converge one InferenceDeployment; returns its phase (None when it no longer exists)."""
    body = observe.read_body(ctx, namespace, name)
    if body is None:
        ctx.use_build(namespace, name, None)
        ctx.use_entry(namespace, name, None)
        ctx.fleet.resource(namespace, name, None, None, False)
        return None
    try:
        return _converge_or_refuse(ctx, body, logger)
    except InvalidSpec as exc:
        act.write_status(ctx.kube, body, desired.invalid_spec_update(body, str(exc), utc_now()))
        raise


def _converge_or_refuse(ctx: Context, body: dict[str, Any], logger: Logger) -> str:
    """_converge; a child the API server refuses as invalid is the spec's fault, reported once, not retried."""
    try:
        return _converge(ctx, body, logger)
    except KubeError as exc:
        if not exc.rejected:
            raise
        detail = exc.message if len(exc.message) <= REFUSAL_MESSAGE_MAX else exc.message[:REFUSAL_MESSAGE_MAX] + "..."
        raise InvalidSpec(f"The API server refused an object made from this spec: {detail}") from None


def _converge(ctx: Context, body: dict[str, Any], logger: Logger) -> str:
    infd = desired.parse(body)
    resolution = observe.read_resolution(ctx, infd, body)
    pin = revision.early_pin(body.get("status") or {}, resolution)
    if pin is not None:
        act.pin_resolution(ctx.kube, body, pin)
    nodes = observe.read_node_facts(ctx, infd) if desired.needs_node_facts(infd) else None
    intent = desired.intent_for(infd, ctx.settings, body, nodes, resolution)
    ns, name = intent.infd.metadata["namespace"], intent.infd.metadata["name"]
    # Registered before the build is read: a build that finishes after the read then triggers this resource
    # again (runtime/handlers.py, on_build_finished); registered after, that event could find no user and the
    # status would keep the build's phase as read (seen after a restart, when both reconcile at once).
    ctx.use_build(ns, name, intent.engine_build["metadata"]["name"] if intent.engine_build else None)
    # The same for the weight cache entry: its phase and progress trigger only the resources asking for it.
    ctx.use_entry(ns, name, intent.weight_cache["metadata"]["name"] if intent.weight_cache else None)
    world = observe.read_world(ctx, intent)
    if intent.weight_cache is not None:
        world = act.ensure_weight_cache(ctx.kube, intent, world, logger)
    if intent.engine_build is not None:  # one reading the weight cache entry is created once the entry is complete
        world = act.ensure_build(ctx.kube, intent, world, logger, desired.build_may_start(intent, world))

    children = desired.children(intent, world, ctx.settings)
    if children.fresh_read_needed:
        world = observe.reread_deployments(ctx, intent, world)
        children = desired.children(intent, world, ctx.settings)
    written = act.write_children(ctx.kube, children)
    if written.monitoring_gone:
        ctx.monitoring_api = None  # the monitoring CRDs were removed: ask again next time, serve on regardless

    selector = desired.pending_pods_selector(intent, children, written.deployments)
    trouble = observe.pod_trouble(ctx, ns, selector) if selector else observe.PodTrouble()
    update = desired.status_update(
        intent, children, written.deployments, trouble.unschedulable, utc_now(), trouble.containers
    )
    act.write_status(ctx.kube, body, update)
    ctx.fleet.resource(ns, name, update.phase, update.active, update.ready)
    if resolution is not None and resolution.outcome is None:  # the Hub did not answer: the status says so
        raise RetryLater(resolution.message)
    return update.phase
