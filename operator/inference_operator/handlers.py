"""kopf handlers: each parses what triggered it, calls one reconcile, and maps errors to kopf's taxonomy."""

from __future__ import annotations

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

INFD = (GROUP, VERSION, "inferencedeployments")
EB = (GROUP, VERSION, "enginebuilds")
_installed: dict[str, Context] = {}


def install(kube: Kube, settings: OperatorSettings) -> Context:
    """Bind the handlers to one client and settings (called once by `inference-operator run`)."""
    _installed["context"] = Context(kube=kube, settings=settings)
    return _installed["context"]


def _ctx() -> Context:
    if "context" not in _installed:
        raise kopf.PermanentError("the operator was started without install()")
    return _installed["context"]


def _run_infd(namespace: str, name: str, logger: kopf.Logger) -> dict[str, Any]:
    try:
        phase = reconcile_inference_deployment(_ctx(), namespace, name, logger)
    except InvalidSpec as exc:
        raise kopf.PermanentError(str(exc)) from None
    except KubeError as exc:
        if exc.transient:
            raise kopf.TemporaryError(str(exc), delay=5) from None
        raise kopf.TemporaryError(str(exc), delay=30) from None
    return {"phase": phase}


@kopf.on.resume(*INFD)
@kopf.on.create(*INFD)
@kopf.on.update(*INFD, field="spec")
def on_inference_deployment(name: str, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    _run_infd(namespace or "", name, logger)


def _reconcile_quietly(namespace: str, name: str, logger: kopf.Logger) -> None:
    """For triggers from children: an error is logged and the next event (or a resume) retries."""
    try:
        reconcile_inference_deployment(_ctx(), namespace, name, logger)
    except (InvalidSpec, KubeError) as exc:
        logger.warning("reconcile of %s/%s failed: %s", namespace, name, exc)


@kopf.on.event(
    "apps",
    "v1",
    "deployments",
    labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_SERVING},
)
def on_serving_deployment(body: kopf.Body, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    parent = body.get("metadata", {}).get("labels", {}).get(LABEL_DEPLOYMENT)
    if parent:
        _reconcile_quietly(namespace or "", parent, logger)


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
def on_unschedulable_pod(body: kopf.Body, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    """The scheduler's verdict lands on the pod, not on the Deployment: surface it in the parent's status."""
    parent = body.get("metadata", {}).get("labels", {}).get(LABEL_DEPLOYMENT)
    if parent:
        _reconcile_quietly(namespace or "", parent, logger)


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
def on_build_finished(name: str, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    """A build finished or failed: every InferenceDeployment using it moves on (cut-over or fallback)."""
    for user in _ctx().users_of(namespace or "", name):
        _reconcile_quietly(namespace or "", user, logger)


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
