"""One level-based reconcile of a WeightCache entry: observe (it, its Job and pods) -> desired -> act; then the
namespace's eviction over the storage budget (unused entries only, oldest first, each with an Event): an entry is
in use while a resource asks for it or any live consumer mounts it, whether or not its resource still exists."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pydantic import ValidationError

from ...api.inference_deployment import InferenceDeployment
from ...api.labels import BUILD_SELECTOR, SERVING_SELECTOR
from ...api.timestamps import utc_now
from ...kube.errors import NotFound
from ...render.weight_cache import LABEL_WEIGHT_CACHE, job_name, render_download_job, render_weight_claim
from ..context import Context
from ..inference_deployment.revision import entry_of
from . import desired
from .progress import progress_url

Logger = logging.Logger | logging.LoggerAdapter[Any]


def reconcile_weight_cache(ctx: Context, namespace: str, name: str, logger: Logger) -> str | None:
    """Converge one entry; returns its phase (None when it no longer exists)."""
    body = ctx.kube.get(desired.KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    entry = desired.parse(body)
    previous = body.get("status") or {}
    job = ctx.kube.get("Job", namespace, job_name(name))
    if job is None and previous.get("phase") not in desired.FINISHED:
        ctx.kube.create_if_absent(render_weight_claim(entry))
        job = ctx.kube.create_if_absent(render_download_job(entry, ctx.settings.hub_endpoint))
        logger.info("download job %s created for weight cache entry %s", job_name(name), name)
    pods = ctx.kube.list("Pod", namespace, f"{LABEL_WEIGHT_CACHE}={name}") if job is not None else []
    url = progress_url(pods) if ctx.read_progress is not None else None
    progress = ctx.read_progress(url) if ctx.read_progress is not None and url else None
    update = desired.entry_update(entry, job, pods, previous, utc_now(), progress)
    if update.changed:
        ctx.kube.patch_status(desired.KIND, namespace, name, update.status, previous)
    if update.event is not None:
        ctx.kube.event(body, *update.event)
    evict(ctx, namespace, body, logger)
    return str(update.status["phase"])


def wanted_entries(resources: list[dict[str, Any]], default: bool) -> set[str]:
    """The entries the namespace's resources ask for now, by their spec and the revision pinned in their status
    (an unparsable resource, or one whose revision is not resolved yet, asks for none: what it serves from is
    counted by its Deployment's label); `default`: the operator's for a resource that does not say
    (INFOP_WEIGHT_CACHE_DEFAULT)."""
    out = set()
    for body in resources:
        try:
            infd = InferenceDeployment.model_validate({k: v for k, v in body.items() if k != "status"})
        except ValidationError:
            continue
        entry = entry_of(infd, body.get("status") or {}, default)
        if entry is not None and not body["metadata"].get("deletionTimestamp"):
            out.add(entry)
    return out


def consumers(ctx: Context, namespace: str) -> list[dict[str, Any]]:
    """Everything of the namespace that may mount an entry: serving Deployments and LeaderWorkerSets, build and
    quantization Jobs, EngineBuilds (desired.entries_in_use says which still do). Not the download Jobs: an
    entry's own Job does not keep it."""
    found = ctx.kube.list("Deployment", namespace, SERVING_SELECTOR)
    with contextlib.suppress(NotFound):  # the LeaderWorkerSet API is not installed: no groups
        found += ctx.kube.list("LeaderWorkerSet", namespace, SERVING_SELECTOR)
    found += ctx.kube.list("Job", namespace, BUILD_SELECTOR)
    return found + ctx.kube.list("EngineBuild", namespace, "")


def evict(ctx: Context, namespace: str, trigger: dict[str, Any], logger: Logger) -> list[str]:
    """Delete unused entries over the budget (their PVC and Job go with them, by owner references)."""
    budget = ctx.settings.weight_cache_budget
    if budget is None:
        return []
    entries = ctx.kube.list(desired.KIND, namespace, "")
    in_use = desired.entries_in_use(
        wanted_entries(ctx.kube.list("InferenceDeployment", namespace, ""), ctx.settings.weight_cache_default),
        consumers(ctx, namespace),
        [e["metadata"]["name"] for e in entries],
    )
    evicted = []
    for entry in desired.evictions(entries, in_use, budget):
        message = desired.eviction_message(entry, budget)
        ctx.kube.event(entry, "Normal", "Evicted", message)
        if entry["metadata"]["name"] != trigger["metadata"]["name"]:
            ctx.kube.event(trigger, "Normal", "Evicted", message)
        ctx.kube.delete(desired.KIND, namespace, entry["metadata"]["name"])
        logger.info("%s", message)
        evicted.append(entry["metadata"]["name"])
    return evicted
