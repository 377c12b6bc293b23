"""Facts of the children read from the cluster, reduced to what plan and status need. Pure parsing, no I/O."""

from __future__ import annotations

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
    if obj is None:
        return None
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
