"""Facts of the children read from the cluster, reduced to what plan and status need. Pure parsing, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..api.engine_build import BuildPhase
from ..api.labels import LABEL_BUILD


@dataclass(frozen=True)
class DeploymentFacts:
    """One serving Deployment as the API server last reported it."""

    name: str
    generation: int
    observed_generation: int
    desired: int
    replicas: int
    ready: int
    updated: int
    available: int
    engine_build: str | None
    progress_deadline_exceeded: bool
    # Progressing is NewReplicaSetAvailable: the last rollout finished, so pods missing now were lost (a crash,
    # a failed liveness probe, an eviction), not yet to come.
    rollout_complete: bool = False

    @property
    def rolled_out(self) -> bool:
        """The controller has seen the latest spec and every desired pod is updated and Ready."""
        return (
            self.observed_generation >= self.generation
            and self.updated >= self.desired
            and self.ready >= self.desired
            and self.replicas == self.updated
        )

    @property
    def serving(self) -> bool:
        """At least one Ready pod: the Service has an endpoint if it selects these pods."""
        return self.ready > 0


def deployment_facts(obj: dict[str, Any] | None) -> DeploymentFacts | None:
    """A serving Deployment's facts, or a LeaderWorkerSet's (counted in groups)."""
    if obj is None:
        return None
    if obj.get("kind") == "LeaderWorkerSet":
        return leader_worker_set_facts(obj)
    meta = obj.get("metadata", {})
    spec = obj.get("spec", {})
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    progressing: dict[str, Any] = next((c for c in conditions if c.get("type") == "Progressing"), {})
    deadline = progressing.get("reason") == "ProgressDeadlineExceeded"
    template_labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    return DeploymentFacts(
        name=meta.get("name", ""),
        generation=int(meta.get("generation", 0)),
        observed_generation=int(status.get("observedGeneration", 0)),
        desired=int(spec.get("replicas", 1)),
        replicas=int(status.get("replicas", 0)),
        ready=int(status.get("readyReplicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        available=int(status.get("availableReplicas", 0)),
        engine_build=template_labels.get(LABEL_BUILD),
        progress_deadline_exceeded=deadline,
        rollout_complete=progressing.get("reason") == "NewReplicaSetAvailable",
    )


def leader_worker_set_facts(obj: dict[str, Any]) -> DeploymentFacts:
    """A LeaderWorkerSet (sigs.k8s.io/lws v0.7.0) as DeploymentFacts, in groups: status.readyReplicas counts
    groups whose pods are all Ready, updatedReplicas groups on the current revision. Its status has no
    observedGeneration; its conditions (metav1.Condition) carry one."""
    meta = obj.get("metadata", {})
    spec = obj.get("spec", {})
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    generation = int(meta.get("generation", 0))
    seen = [int(c["observedGeneration"]) for c in conditions if c.get("observedGeneration") is not None]
    updating = any(c.get("type") == "UpdateInProgress" and c.get("status") == "True" for c in conditions)
    available = any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
    leader = spec.get("leaderWorkerTemplate", {}).get("leaderTemplate") or {}
    ready = int(status.get("readyReplicas", 0))
    return DeploymentFacts(
        name=meta.get("name", ""),
        generation=generation,
        observed_generation=max(seen) if seen else (generation if "replicas" in status else 0),
        desired=int(spec.get("replicas", 1)),
        replicas=int(status.get("replicas", 0)),
        ready=ready,
        updated=0 if updating else int(status.get("updatedReplicas", 0)),
        available=ready if available else 0,
        engine_build=leader.get("metadata", {}).get("labels", {}).get(LABEL_BUILD),
        progress_deadline_exceeded=False,
        rollout_complete=available and not updating,
    )


@dataclass(frozen=True)
class BuildFacts:
    """The EngineBuild a TensorRT-LLM deployment needs."""

    name: str
    phase: BuildPhase
    message: str
    reason: str = ""  # of a finished build: the Job's, e.g. BackoffLimitExceeded or DeadlineExceeded


def build_facts(obj: dict[str, Any] | None) -> BuildFacts | None:
    if obj is None:
        return None
    status = obj.get("status") or {}
    raw = status.get("phase") or BuildPhase.PENDING.value
    try:
        phase = BuildPhase(raw)
    except ValueError:
        phase = BuildPhase.PENDING
    reason = next(
        (str(c.get("reason") or "") for c in status.get("conditions") or [] if c.get("type") == "Succeeded"), ""
    )
    return BuildFacts(name=obj["metadata"]["name"], phase=phase, message=status.get("message") or "", reason=reason)


def unschedulable_reason(pods: list[dict[str, Any]]) -> str | None:
    """The scheduler's message for the first pod it could not place, e.g. '0/5 nodes are available: ...'."""
    for pod in sorted(pods, key=lambda p: p.get("metadata", {}).get("name", "")):
        for cond in (pod.get("status") or {}).get("conditions") or []:
            scheduled = cond.get("type") == "PodScheduled" and cond.get("status") == "False"
            if scheduled and cond.get("reason") == "Unschedulable":
                return str(cond.get("message") or "the scheduler found no node that fits")
    return None


@dataclass(frozen=True)
class BuildPodFacts:
    """The build Job's newest pod: whether the scheduler placed it and whether the build container runs."""

    name: str
    phase: str  # Pending, Running, Succeeded, Failed (the pod's own)
    node: str | None
    unschedulable: str | None  # the scheduler's reason and message while it cannot place the pod
    waiting: str | None  # why a placed pod's container does not run yet (e.g. ErrImagePull: ...)
    running_since: str | None  # when the build container started

    @property
    def no_node_matches_selector(self) -> bool:
        """The scheduler found no usable node with the pod's node selector at all (not merely none free): for a
        build, whose only selector is the GPU product, no schedulable node of the cluster has that product."""
        found = _NODES_AVAILABLE.search(self.unschedulable or "")
        if found is None:
            return False
        counts = _COUNTED.split(found.group(1))
        return any(_SELECTOR in part for part in counts) and all(
            any(reason in part for reason in _NOT_FOR_THIS_POD) for part in counts
        )

    @property
    def building(self) -> bool:
        """The build container runs (or has just finished and the Job is about to record it)."""
        return self.phase in ("Running", "Succeeded")


# kube-scheduler's message, e.g. "0/9 nodes are available: 2 node(s) had untolerated taint {...}, 7 node(s) didn't
# match Pod's node affinity/selector. preemption: ...". Each node counts once, under the first filter it fails;
# the taint and schedulability filters run before the node selector's, so those nodes never reach it.
_NODES_AVAILABLE = re.compile(r"0/\d+ nodes are available: (.*?)(?:\. preemption:|\.?$)")
_COUNTED = re.compile(r", (?=\d+ )")
_SELECTOR = "didn't match Pod's node affinity/selector"
_NOT_FOR_THIS_POD = (_SELECTOR, "had untolerated taint", "were unschedulable", "had volume node affinity conflict")


def _scheduling_problem(status: dict[str, Any]) -> str | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            reason = str(cond.get("reason") or "Unschedulable")
            return f"{reason}: {cond.get('message') or 'the scheduler found no node that fits'}"
    return None


def _container_state(status: dict[str, Any]) -> tuple[str | None, str | None]:
    """(waiting reason and message, startedAt of the running or finished container) of the first container."""
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "running" in state:
            return None, (state["running"] or {}).get("startedAt")
        if "terminated" in state:
            return None, (state["terminated"] or {}).get("startedAt")
        waiting = state.get("waiting") or {}
        if waiting.get("reason"):
            detail = f": {waiting['message']}" if waiting.get("message") else ""
            return f"{waiting['reason']}{detail}", None
    return None, None


def build_pod_facts(pods: list[dict[str, Any]]) -> BuildPodFacts | None:
    """The newest of a build Job's pods (the current attempt), or None before the Job made one."""
    if not pods:
        return None
    pod = max(pods, key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"].get("name", "")))
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    waiting, started = _container_state(status)
    if phase in ("Running", "Succeeded") and not started:
        started = status.get("startTime")
    return BuildPodFacts(
        name=str(pod["metadata"].get("name", "")),
        phase=phase,
        node=(pod.get("spec") or {}).get("nodeName") or None,
        unschedulable=_scheduling_problem(status) if phase == "Pending" else None,
        waiting=waiting if phase == "Pending" else None,
        running_since=str(started) if started and phase in ("Running", "Succeeded") else None,
    )


# Waiting reasons of every container on its way up: not news.
_STARTING = frozenset({"ContainerCreating", "PodInitializing"})


def _container_trouble(pod: str, container: dict[str, Any]) -> str | None:
    where = f"container {container.get('name', '?')} of pod {pod}"
    state = container.get("state") or {}
    terminated = state.get("terminated")
    if terminated:
        code, reason = terminated.get("exitCode"), terminated.get("reason") or "Error"
        return f"{where} exited with code {code} ({reason}) and is being restarted."
    waiting = state.get("waiting") or {}
    restarts = int(container.get("restartCount") or 0)
    if restarts:
        last = (container.get("lastState") or {}).get("terminated") or {}
        text = f"{where} has restarted {restarts} time{'' if restarts == 1 else 's'}"
        if last:
            text += f" (last exit code {last.get('exitCode')}, {last.get('reason') or 'Error'})"
        if waiting.get("reason"):
            text += f"; it waits: {waiting['reason']}"
        return text + "."
    if waiting.get("reason") and waiting["reason"] not in _STARTING:
        detail = f": {waiting['message']}" if waiting.get("message") else ""
        return f"{where} waits: {waiting['reason']}{detail}."
    return None


def container_trouble(pods: list[dict[str, Any]]) -> str | None:
    """Why an engine pod is down, as the kubelet reports it: the first container of these pods that is not Ready
    and exited, restarted or waits for a reason other than starting. One sentence, or None."""
    for pod in sorted(pods, key=lambda p: p.get("metadata", {}).get("name", "")):
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            if container.get("ready"):
                continue
            found = _container_trouble(pod.get("metadata", {}).get("name", "?"), container)
            if found:
                return found
    return None
