"""One level-based reconcile per kind: read, plan, render, apply, write status. Handlers only call these."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from . import metrics
from .advisor.engine_choice import EXPLICIT, EngineChoice, choose_engine, trtllm_blocker
from .api.engine_build import BuildPhase, EngineBuild
from .api.inference_deployment import Engine, InferenceDeployment, TrtllmBackend
from .apply import KeyedLocks, Kube, KubeError, NotFound, utc_now
from .build_status import compute_build_status
from .engine_key import EngineKeyError, build_job_name, render_engine_build
from .fleet import Fleet
from .manifest_io import format_validation_error
from .observed import BuildFacts, build_facts, deployment_facts, unschedulable_reason
from .plan import Action, Plan, plan_serving
from .render.build_job import render_build_job
from .render.common import LABEL_ENGINE, endpoint, selector_labels, service_name, serving_name
from .render.podmonitor import render_pod_monitor
from .render.service import render_service
from .render.store import render_engine_store
from .render.trtllm import render_trtllm_deployment
from .render.vllm import render_vllm_deployment
from .settings import OperatorSettings
from .status import Observation, compute_status, invalid_spec_status, status_changed

# kopf hands handlers a LoggerAdapter; reconcile only needs .info/.warning.
Logger = logging.Logger | logging.LoggerAdapter[Any]
MONITORING_API = "monitoring.coreos.com/v1"


class InvalidSpec(Exception):
    """The spec passed the API server's schema but the operator cannot use it; time will not fix it."""


@dataclass
class Context:
    """What every reconcile shares for the life of the process."""

    kube: Kube
    settings: OperatorSettings
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    # EngineBuild (namespace, name) -> InferenceDeployments using it; rebuilt by the resume handlers at start.
    build_users: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    _users_lock: threading.Lock = field(default_factory=threading.Lock)
    monitoring_api: bool | None = None
    fleet: Fleet = field(default_factory=Fleet)

    def monitoring_served(self) -> bool:
        if self.monitoring_api is None:
            self.monitoring_api = self.kube.served(MONITORING_API)
        return self.monitoring_api

    def users_of(self, namespace: str, build: str) -> list[str]:
        with self._users_lock:
            return sorted(self.build_users.get((namespace, build), set()))

    def _use(self, namespace: str, name: str, build: str | None) -> None:
        with self._users_lock:
            for (ns, _), users in self.build_users.items():
                if ns == namespace:
                    users.discard(name)
            if build is not None:
                self.build_users[(namespace, build)].add(name)


def _parse(body: dict[str, Any]) -> InferenceDeployment:
    content = {k: v for k, v in body.items() if k != "status"}
    try:
        return InferenceDeployment.model_validate(content)
    except ValidationError as exc:
        raise InvalidSpec(format_validation_error(exc)) from None


def _ensure_build(ctx: Context, infd: InferenceDeployment, logger: Logger) -> BuildFacts:
    ns = infd.metadata["namespace"]
    ctx.kube.create_if_absent(render_engine_store(ns, ctx.settings.store))
    wanted = render_engine_build(infd, ctx.settings.store)
    existing = ctx.kube.get("EngineBuild", ns, wanted["metadata"]["name"])
    if existing is None:
        existing = ctx.kube.create_if_absent(wanted)
        logger.info("engine build %s requested for %s", wanted["metadata"]["name"], infd.metadata["name"])
    facts = build_facts(existing)
    assert facts is not None
    return facts


def _apply_serving(
    ctx: Context, infd: InferenceDeployment, plan: Plan, observed: dict[Engine, dict[str, Any] | None]
) -> dict[Engine, dict[str, Any] | None]:
    """Apply, keep or delete each engine's Deployment; returns the objects as they now are."""
    now: dict[Engine, dict[str, Any] | None] = {}
    for engine, action in ((Engine.VLLM, plan.vllm), (Engine.TENSORRT_LLM, plan.trtllm)):
        current = observed[engine]
        if action is Action.APPLY:
            manifest = (
                render_vllm_deployment(infd)
                if engine is Engine.VLLM
                else render_trtllm_deployment(infd, plan.trtllm_build, ctx.settings.store)
            )
            now[engine] = ctx.kube.apply(manifest, current)
        elif action is Action.KEEP:
            now[engine] = current
        else:
            now[engine] = None
    return now


def _delete_retired(
    ctx: Context, infd: InferenceDeployment, plan: Plan, observed: dict[Engine, dict[str, Any] | None]
) -> None:
    """Deployments the plan retires go last, after the Service points elsewhere."""
    for engine, action in ((Engine.VLLM, plan.vllm), (Engine.TENSORRT_LLM, plan.trtllm)):
        if action is Action.DELETE and observed[engine] is not None:
            ctx.kube.delete("Deployment", infd.metadata["namespace"], serving_name(infd, engine))


def _monitoring(ctx: Context, infd: InferenceDeployment) -> None:
    ns, name = infd.metadata["namespace"], infd.metadata["name"]
    if not ctx.monitoring_served():
        return
    try:
        current = ctx.kube.get("PodMonitor", ns, name)
        if infd.spec.monitoring.enabled:
            ctx.kube.apply(render_pod_monitor(infd), current)
        elif current is not None:
            ctx.kube.delete("PodMonitor", ns, name)
    except NotFound:
        ctx.monitoring_api = None  # the monitoring CRDs were removed: ask again next time, serve on regardless


def _events(
    ctx: Context, body: dict[str, Any], previous: dict[str, Any], new: dict[str, Any], choice: EngineChoice
) -> None:
    prev_engine = previous.get("engine") or {}
    new_engine = new.get("engine") or {}
    # Events are writes too: one for every phase change and for each decision the operator makes (an explicit
    # preference is no decision, and the first engine to serve is no cut-over).
    if prev_engine.get("decisionHash") != new_engine.get("decisionHash"):
        if choice.reason_code != EXPLICIT:
            ctx.kube.event(body, "Normal", "EngineSelected", f"Selected {choice.selected.value}: {choice.reason}")
        metrics.record_selection(choice.selected.value, choice.reason_code)
    if prev_engine.get("active") and new_engine.get("active") and prev_engine["active"] != new_engine["active"]:
        ctx.kube.event(body, "Normal", "CutOver", f"The Service now routes to {new_engine['active']}.")
    prev_build, new_build = previous.get("build") or {}, new.get("build") or {}
    if new_build and prev_build.get("phase") != new_build.get("phase"):
        kind = "Warning" if new_build.get("phase") == BuildPhase.FAILED.value else "Normal"
        ctx.kube.event(
            body,
            kind,
            f"EngineBuild{new_build['phase']}",
            f"Engine build {new_build['key']}: {new_build.get('message', '')}",
        )
    if previous.get("phase") != new.get("phase"):
        kind = "Warning" if new["phase"] in ("Failed", "Degraded") else "Normal"
        ctx.kube.event(body, kind, new["phase"], new.get("message") or new["phase"])


def serving_deployment_seen(ctx: Context, body: dict[str, Any], deleted: bool) -> bool:
    """A serving Deployment's watch event, remembered; True when what plan and status read of it changed.

    Most events are the echo of the operator's own apply (already known) or status fields nothing reads: those
    cost no reconcile. A change of spec (generation) or a deletion does, so drift is still put right.
    """
    before = ctx.kube.observe(body, deleted)
    return deleted or deployment_facts(before) != deployment_facts(body)


def reconcile_inference_deployment(ctx: Context, namespace: str, name: str, logger: Logger) -> str | None:
    """Converge one InferenceDeployment; returns its phase (None when it no longer exists)."""
    started = time.monotonic()
    with ctx.locks(namespace, name):
        body = ctx.kube.get("InferenceDeployment", namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            ctx._use(namespace, name, None)
            ctx.fleet.resource(namespace, name, None, None, False)
            return None
        previous = body.get("status") or {}
        try:
            result = _converge_or_refuse(ctx, body, previous, logger)
        except InvalidSpec as exc:
            status = invalid_spec_status(int(body["metadata"].get("generation", 0)), str(exc), previous, utc_now())
            if status_changed(previous, status):
                ctx.kube.patch_status("InferenceDeployment", namespace, name, status, previous)
                ctx.kube.event(body, "Warning", "InvalidSpec", str(exc))
            metrics.record_reconcile("InferenceDeployment", metrics.RESULT_ERROR, time.monotonic() - started)
            raise
        except KubeError as exc:
            result_kind = metrics.RESULT_RETRY if exc.transient else metrics.RESULT_ERROR
            metrics.record_reconcile("InferenceDeployment", result_kind, time.monotonic() - started)
            raise
        metrics.record_reconcile("InferenceDeployment", metrics.RESULT_SUCCESS, time.monotonic() - started)
        return result


# The API server echoes the offending value in its message, and a value can be a megabyte long.
REFUSAL_MESSAGE_MAX = 1000


def _converge_or_refuse(ctx: Context, body: dict[str, Any], previous: dict[str, Any], logger: Logger) -> str:
    """_converge; a child the API server refuses as invalid is the spec's fault, reported once, not retried."""
    try:
        return _converge(ctx, body, previous, logger)
    except EngineKeyError as exc:  # e.g. `auto` chose TensorRT-LLM for a resource without spec.resources.gpuProduct
        raise InvalidSpec(str(exc)) from None
    except KubeError as exc:
        if not exc.rejected:
            raise
        detail = exc.message if len(exc.message) <= REFUSAL_MESSAGE_MAX else exc.message[:REFUSAL_MESSAGE_MAX] + "..."
        raise InvalidSpec(f"The API server refused an object made from this spec: {detail}") from None


def _converge(ctx: Context, body: dict[str, Any], previous: dict[str, Any], logger: Logger) -> str:
    infd = _parse(body)
    ns, name = infd.metadata["namespace"], infd.metadata["name"]
    choice = choose_engine(infd, ctx.settings.decision, previous.get("engine"))
    blocker = trtllm_blocker(infd) if choice.selected is Engine.TENSORRT_LLM else None
    build: BuildFacts | None = None
    if (
        choice.selected is Engine.TENSORRT_LLM
        and blocker is None
        and infd.spec.engine.tensorrt_llm.backend is TrtllmBackend.ENGINE
    ):
        build = _ensure_build(ctx, infd, logger)
    ctx._use(ns, name, build.name if build else None)

    observed = {e: ctx.kube.get("Deployment", ns, serving_name(infd, e)) for e in Engine}
    plan = plan_serving(infd, choice.selected, build, {e: deployment_facts(o) for e, o in observed.items()}, blocker)
    service = ctx.kube.get("Service", ns, service_name(infd))
    routed = ((service or {}).get("spec") or {}).get("selector", {}).get(LABEL_ENGINE)
    if service is not None and routed != plan.route.value:
        # Moving traffic is decided on fresh reads, never on a cached body that may lag a pod's readiness.
        observed = {e: ctx.kube.get("Deployment", ns, serving_name(infd, e), fresh=True) for e in Engine}
        facts = {e: deployment_facts(o) for e, o in observed.items()}
        plan = plan_serving(infd, choice.selected, build, facts, blocker)
    # The Service moves before any Deployment changes: a Recreate rollout stops the pods it routed to at once.
    ctx.kube.apply(render_service(infd, plan.route), service)
    current = _apply_serving(ctx, infd, plan, observed)
    _delete_retired(ctx, infd, plan, observed)
    _monitoring(ctx, infd)

    facts = {e: deployment_facts(o) for e, o in current.items()}
    routed = facts.get(plan.route)
    pending = None
    if routed is not None and routed.ready < infd.spec.replicas:
        selector = ",".join(f"{k}={v}" for k, v in selector_labels(infd, plan.route).items())
        pending = unschedulable_reason(ctx.kube.list("Pod", ns, selector))
    obs = Observation(plan, facts, build, pending, endpoint(infd), choice.status)
    status = compute_status(infd, obs, previous, utc_now())
    if status_changed(previous, status):
        ctx.kube.patch_status("InferenceDeployment", ns, name, status, previous)
        _events(ctx, body, previous, status, choice)
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
    ctx.fleet.resource(ns, name, status["phase"], status["engine"].get("active"), ready)
    return str(status["phase"])


def reconcile_engine_build(ctx: Context, namespace: str, name: str, logger: Logger) -> str | None:
    """Converge one EngineBuild: one Job per key, its result recorded once and for good."""
    started = time.monotonic()
    with ctx.locks(namespace, f"eb/{name}"):
        body = ctx.kube.get("EngineBuild", namespace, name)
        if body is None:
            ctx.fleet.build(namespace, name, None)
            metrics.forget_build(namespace, name)
            return None
        build = EngineBuild.model_validate({k: v for k, v in body.items() if k != "status"})
        previous = body.get("status") or {}
        job_name = build_job_name(name)
        job = ctx.kube.get("Job", namespace, job_name)
        if job is None and previous.get("phase") not in (BuildPhase.SUCCEEDED.value, BuildPhase.FAILED.value):
            job = ctx.kube.create_if_absent(render_build_job(build, ctx.settings.store))
            logger.info("build job %s created for engine %s", job_name, name)
        engine_path = f"{ctx.settings.store.mount_path}/{name}/engine"
        status = compute_build_status(build, job, job_name, engine_path, previous, utc_now())
        if status_changed(previous, status):
            ctx.kube.patch_status("EngineBuild", namespace, name, status, previous)
            if previous.get("phase") != status["phase"]:
                kind = "Warning" if status["phase"] == BuildPhase.FAILED.value else "Normal"
                ctx.kube.event(body, kind, f"Build{status['phase']}", status["message"])
                if status["phase"] == BuildPhase.SUCCEEDED.value and "durationSeconds" in status:
                    metrics.observe_build_duration(float(status["durationSeconds"]))
        ctx.fleet.build(namespace, name, status["phase"])
        metrics.set_build_state(
            namespace,
            name,
            status["phase"],
            started_at=_unix(status.get("startTime")),
            # The build deadline is sized at about three times the expected compile time (engine_key.py).
            expected_seconds=build.spec.deadline_seconds / 3,
        )
        metrics.record_reconcile("EngineBuild", metrics.RESULT_SUCCESS, time.monotonic() - started)
        return str(status["phase"])


def _unix(timestamp: str | None) -> float | None:
    if not timestamp:
        return None
    return datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()


def monitoring_api_appeared(ctx: Context, established: bool, logger: Logger) -> None:
    """The PodMonitor CRD changed: once it is Established, give every known resource its PodMonitor.

    The CRD's own Established condition is trusted: API discovery can lag it by a moment, and no later event
    would come to look again.
    """
    if ctx.monitoring_api or not established:
        return
    ctx.monitoring_api = True
    logger.info("the %s API is now served: creating PodMonitors", MONITORING_API)
    for namespace, name in ctx.fleet.known():
        try:
            reconcile_inference_deployment(ctx, namespace, name, logger)
        except (InvalidSpec, KubeError) as exc:
            logger.warning("reconcile of %s/%s failed: %s", namespace, name, exc)
