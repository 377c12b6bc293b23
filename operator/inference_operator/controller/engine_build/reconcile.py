"""One level-based reconcile of an EngineBuild: observe (it and its Job) -> desired (Job, status) -> act.

A finished result is recorded once and for good. The runtime runs this from its work queue, like the
InferenceDeployment reconcile, and counts every outcome.
"""

from __future__ import annotations

import logging
from typing import Any

from ...api.engine_build import EngineBuild
from ...api.errors import InvalidSpec
from ...api.timestamps import utc_now
from ...kube.errors import KubeError
from ...metrics import operator as metrics
from ...render.engine_key import build_job_name
from ..context import Context
from ..facts import build_pod_facts
from . import desired
from .status import FINISHED

Logger = logging.Logger | logging.LoggerAdapter[Any]


def reconcile_engine_build(ctx: Context, namespace: str, name: str, logger: Logger) -> str | None:
    """Converge one EngineBuild; returns its phase (None when it no longer exists)."""
    # observe
    body = ctx.kube.get(desired.KIND, namespace, name)
    if body is None:
        ctx.fleet.build(namespace, name, None)
        metrics.forget_build(namespace, name)
        return None
    previous = body.get("status") or {}
    build = desired.parse(body)
    refused = desired.refusal(build)
    if refused is not None and previous.get("phase") not in FINISHED:
        _record(ctx, body, desired.refused_update(build, refused, previous, utc_now()))
        raise InvalidSpec(refused)
    job = ctx.kube.get("Job", namespace, build_job_name(name))
    # desired, then act: the store and the Job first, the status from the Job as created and its newest pod
    wanted = desired.job_to_create(build, job, previous, ctx.settings)
    if wanted is not None:
        # observe the Nodes only for a Job to create: with none of the build's GPU product, no Job but a condition
        # (runtime/handlers.py looks again every NODE_RECHECK_SECONDS while the status says so)
        missing = desired.missing_gpu_product(build, _gpu_nodes(ctx, build, logger))
        if missing is not None:
            waiting = desired.no_node_update(build, missing, previous, utc_now())
            _record(ctx, body, waiting)
            return waiting.phase
        ctx.kube.create_if_absent(desired.store_to_ensure(build, ctx.settings))
        job = ctx.kube.create_if_absent(wanted)
        logger.info("build job %s created for engine %s", wanted["metadata"]["name"], name)
    pods = ctx.kube.list("Pod", namespace, desired.pods_selector(build)) if desired.needs_pods(job, previous) else []
    update = desired.build_update(build, job, previous, ctx.settings, utc_now(), build_pod_facts(pods))
    _record(ctx, body, update)
    return update.phase


def _gpu_nodes(ctx: Context, build: EngineBuild, logger: Logger) -> list[dict[str, Any]] | None:
    """One Node the build's pod may run on (an empty list: none), or None when the check is off or Nodes may not
    be read (RBAC trimmed by a platform team: builds go ahead without the check, logged once)."""
    if not ctx.settings.build_require_gpu_node:
        return None
    try:
        nodes = ctx.kube.list("Node", None, desired.gpu_nodes_selector(build), limit=1)
    except KubeError as exc:
        if exc.status != 403:
            raise
        if ctx.nodes_readable is not False:
            logger.warning(
                "may not list nodes (%s): build Jobs are created without checking that a node has their GPU "
                "product; grant list on nodes to the operator's ClusterRole to have them wait instead",
                exc.message,
            )
        ctx.nodes_readable = False
        return None
    ctx.nodes_readable = True
    return nodes


def _record(ctx: Context, body: dict[str, Any], update: desired.BuildUpdate) -> None:
    """The status (when it changed), its Event, the metrics and the fleet gauges."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    if update.changed:
        ctx.kube.patch_status(desired.KIND, namespace, name, update.status, body.get("status") or {})
    if update.event is not None:
        ctx.kube.event(body, *update.event)
    if update.finished_seconds is not None:
        metrics.observe_build_duration(update.finished_seconds)
    ctx.fleet.build(namespace, name, update.phase)
    metrics.set_build_state(
        namespace, name, update.phase, started_at=update.started_at, expected_seconds=update.expected_seconds
    )
