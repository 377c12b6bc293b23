"""kopf handlers: each parses what triggered it, calls one reconcile, and maps errors to kopf's taxonomy.

InferenceDeployment reconciles go through a keyed work queue (workqueue.py): the handlers are async and
only hand it a key, so kopf's per-object workers never wait for a thread while holding watch events.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from . import GROUP, VERSION
from .apply import Kube, KubeError
from .reconcile import (
    Context,
    InvalidSpec,
    monitoring_api_appeared,
    reconcile_engine_build,
    reconcile_inference_deployment,
    serving_deployment_seen,
)
from .render.common import (
    COMPONENT_BUILD,
    COMPONENT_SERVING,
    LABEL_BUILD,
    LABEL_COMPONENT,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED_BY,
    MANAGED_BY,
)
from .settings import OperatorSettings
from .workqueue import Key, ReconcileQueue

INFD = (GROUP, VERSION, "inferencedeployments")
EB = (GROUP, VERSION, "enginebuilds")
_installed: dict[str, Context] = {}
_queues: dict[str, ReconcileQueue] = {}


def install(kube: Kube, settings: OperatorSettings, workers: int = 16) -> Context:
    """Bind the handlers to one client and settings (called once by `inference-operator run`)."""
    _installed["context"] = Context(kube=kube, settings=settings)
    _queues["infd"] = ReconcileQueue(_reconcile, workers)
    return _installed["context"]


def _reconcile(key: Key, logger: logging.Logger | logging.LoggerAdapter[Any]) -> str | None:
    _, namespace, name = key
    return reconcile_inference_deployment(_ctx(), namespace, name, logger)


def _queue() -> ReconcileQueue:
    if "infd" not in _queues:
        raise kopf.PermanentError("the operator was started without install()")
    return _queues["infd"]


def _infd_key(namespace: str | None, name: str) -> Key:
    return ("InferenceDeployment", namespace or "", name)


def _ctx() -> Context:
    if "context" not in _installed:
        raise kopf.PermanentError("the operator was started without install()")
    return _installed["context"]


async def _run_infd(namespace: str, name: str, logger: kopf.Logger) -> dict[str, Any]:
    try:
        phase = await _queue().run(_infd_key(namespace, name), logger)
    except InvalidSpec as exc:
        raise kopf.PermanentError(str(exc)) from None
    except KubeError as exc:
        if exc.transient:
            raise kopf.TemporaryError(str(exc), delay=5) from None
        raise kopf.TemporaryError(str(exc), delay=30) from None
    return {"phase": phase}


@kopf.on.event(*INFD)
async def on_inference_deployment_event(body: kopf.Body, type: str | None, **_: Any) -> None:
    """Every event of the watch kopf keeps anyway feeds the cache, so reconciles read no InferenceDeployment.

    async: it runs in kopf's loop, before the change handlers of the same event, and costs no thread.
    """
    _ctx().kube.observe(dict(body), deleted=type == "DELETED")


@kopf.on.resume(*INFD)
@kopf.on.create(*INFD)
@kopf.on.update(*INFD, field="spec")
async def on_inference_deployment(name: str, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    await _run_infd(namespace or "", name, logger)


def _reconcile_soon(namespace: str | None, name: str, logger: kopf.Logger) -> None:
    """For triggers from children: queued, not awaited; an error is logged and the next event retries."""
    _queue().trigger(_infd_key(namespace, name), logger)


@kopf.on.event(
    "apps",
    "v1",
    "deployments",
    labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_SERVING},
)
async def on_serving_deployment(
    body: kopf.Body, type: str | None, namespace: str | None, logger: kopf.Logger, **_: Any
) -> None:
    parent = body.get("metadata", {}).get("labels", {}).get(LABEL_DEPLOYMENT)
    if serving_deployment_seen(_ctx(), dict(body), deleted=type == "DELETED") and parent:
        _reconcile_soon(namespace, parent, logger)


def _unschedulable(body: kopf.Body, **_: Any) -> bool:
    conditions = body.get("status", {}).get("conditions") or []
    return any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions)


@kopf.on.event(
    "",
    "v1",
    "pods",
    labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_SERVING},
    when=_unschedulable,
)
async def on_unschedulable_pod(body: kopf.Body, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    """The scheduler's verdict lands on the pod, not on the Deployment: surface it in the parent's status."""
    parent = body.get("metadata", {}).get("labels", {}).get(LABEL_DEPLOYMENT)
    if parent:
        _reconcile_soon(namespace, parent, logger)


@kopf.on.resume(*EB)
@kopf.on.create(*EB)
def on_engine_build(name: str, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    try:
        reconcile_engine_build(_ctx(), namespace or "", name, logger)
    except KubeError as exc:
        raise kopf.TemporaryError(str(exc), delay=5) from None


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_BUILD})
def on_build_job(body: kopf.Body, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    build = body.get("metadata", {}).get("labels", {}).get(LABEL_BUILD)
    if not build:
        return
    try:
        reconcile_engine_build(_ctx(), namespace or "", build, logger)
    except KubeError as exc:
        logger.warning("reconcile of engine build %s/%s failed: %s", namespace, build, exc)


def _finished(body: kopf.Body, **_: Any) -> bool:
    return body.get("status", {}).get("phase") in ("Succeeded", "Failed")


@kopf.on.event(*EB, when=_finished)
async def on_build_finished(name: str, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    """A build finished or failed: every InferenceDeployment using it moves on (cut-over or fallback)."""
    for user in _ctx().users_of(namespace or "", name):
        _reconcile_soon(namespace, user, logger)


def _is_pod_monitor_crd(name: str, **_: Any) -> bool:
    return name == "podmonitors.monitoring.coreos.com"


@kopf.on.event("apiextensions.k8s.io", "v1", "customresourcedefinitions", when=_is_pod_monitor_crd)
def on_monitoring_crd(body: kopf.Body, type: str | None, logger: kopf.Logger, **_: Any) -> None:
    """Scraping is wired up when the monitoring API appears later, without a restart."""
    conditions = body.get("status", {}).get("conditions") or []
    established = type != "DELETED" and any(
        c.get("type") == "Established" and c.get("status") == "True" for c in conditions
    )
    monitoring_api_appeared(_ctx(), established, logger)
