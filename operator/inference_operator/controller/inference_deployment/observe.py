"""Reads of one InferenceDeployment's reconcile: the resource, its children, why its pods wait. I/O only."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...api.inference_deployment import Engine, InferenceDeployment
from ...api.labels import GPU_PRODUCT_LABEL, GPU_RESOURCE, LABEL_ENGINE
from ...api.timestamps import utc_now
from ...kube.errors import KubeError
from ...render.autoscaler import hpa_name
from ...render.common import selector_labels, service_name
from ...render.multinode import NodeFacts
from ..context import Context
from ..facts import container_trouble, unschedulable_reason
from . import revision
from .desired import KIND, LEADER_WORKER_SET, Intent, World, other_kind, serving_kind, workload_name


def read_body(ctx: Context, namespace: str, name: str) -> dict[str, Any] | None:
    """The resource (from the watch-fed cache); None when it is gone or going."""
    body = ctx.kube.get(KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    return body


def read_resolution(ctx: Context, infd: InferenceDeployment, body: dict[str, Any]) -> revision.Resolution | None:
    """spec.model.revision as the weight cache entry's key needs it: a commit as written or pinned in the status
    (nothing asked), else the Hub's answer (hub.py: at most two requests of 5 s); without a Hub client, the
    revision as written. None: nothing to resolve (no cache, a source without revisions)."""
    want = revision.wanted(infd, ctx.settings.weight_cache_default)
    if want is None:
        return None
    generation = int(infd.metadata.get("generation", 0))
    found = revision.known(want, body.get("status") or {}, generation)
    if found is not None:
        return found
    if ctx.ask_hub is None:
        return revision.Resolution(want, revision.ResolveOutcome.AS_WRITTEN)
    endpoint = ctx.settings.hub_endpoint or revision.HUB
    return revision.classify(want, ctx.ask_hub(want.model, want.revision), endpoint, generation)


def read_world(ctx: Context, intent: Intent) -> World:
    """The children as they are: EngineBuild, serving Deployments, Service, PodMonitor (if its API is served)."""
    infd = intent.infd
    ns = infd.metadata["namespace"]
    build = None
    if intent.engine_build is not None:
        build = ctx.kube.get("EngineBuild", ns, intent.engine_build["metadata"]["name"])
    monitoring = ctx.monitoring_served()
    autoscaler = None
    if infd.spec.autoscaling is not None or intent.previous.get("autoscaler"):
        autoscaler = ctx.kube.get("HorizontalPodAutoscaler", ns, hpa_name(infd))
    group_pods = None
    if intent.shape is not None:
        # Both engines' pods: desired.py counts the routed LeaderWorkerSet's groups by their engine label.
        labels = {k: v for k, v in selector_labels(infd, Engine.VLLM).items() if k != LABEL_ENGINE}
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        group_pods = ctx.kube.list("Pod", ns, selector)
    return World(
        deployments={e: _workload(ctx, intent, e, serving_kind(intent, e)) for e in Engine},
        stale={e: _stale(ctx, intent, e) for e in Engine},
        service=ctx.kube.get("Service", ns, service_name(infd)),
        build=build,
        monitoring_api=monitoring,
        pod_monitor=ctx.kube.get("PodMonitor", ns, infd.metadata["name"]) if monitoring else None,
        autoscaler=autoscaler,
        group_pods=group_pods,
        now=utc_now(),
        weight_cache=ctx.kube.get("WeightCache", ns, intent.weight_cache["metadata"]["name"])
        if intent.weight_cache is not None
        else None,
    )


def _workload(ctx: Context, intent: Intent, engine: Engine, kind: str, fresh: bool = False) -> dict[str, Any] | None:
    """An engine's serving workload of one kind (Deployment or LeaderWorkerSet), or None."""
    ns = intent.infd.metadata["namespace"]
    return ctx.kube.get(kind, ns, workload_name(intent.infd, engine, kind), fresh=fresh)


def _stale(ctx: Context, intent: Intent, engine: Engine) -> dict[str, Any] | None:
    """An engine's workload of the kind it no longer has (a switch between one pod and a group). A
    LeaderWorkerSet is looked for only where groups are or were (status.groups): a cluster without the LWS
    API never serves that kind."""
    kind = other_kind(serving_kind(intent, engine))
    if kind == LEADER_WORKER_SET and intent.shape is None and not intent.previous.get("groups"):
        return None
    return _workload(ctx, intent, engine, kind)


def read_node_facts(ctx: Context, infd: InferenceDeployment) -> NodeFacts | None:
    """The nodes of the resource's GPU product: their largest nvidia.com/gpu allocatable and how many there are.
    None when Nodes may not be read (RBAC trimmed): then only a declared spec.multiNode.gpusPerNode counts."""
    selector = f"{GPU_PRODUCT_LABEL}={infd.spec.resources.gpu_product}"
    try:
        nodes = ctx.kube.list("Node", None, selector)
    except KubeError as exc:
        if exc.status != 403:
            raise
        return None
    gpus = [int(((n.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE, 0) or 0) for n in nodes]
    gpus = [g for g in gpus if g > 0]
    return NodeFacts(gpus_per_node=max(gpus) if gpus else None, nodes=len(gpus))


def reread_deployments(ctx: Context, intent: Intent, world: World) -> World:
    """The serving Deployments read afresh from the API server (not the cache), before traffic moves."""
    fresh = {e: _workload(ctx, intent, e, serving_kind(intent, e), fresh=True) for e in Engine}
    return dataclasses.replace(world, deployments=fresh)


@dataclasses.dataclass(frozen=True)
class PodTrouble:
    """Why the routed engine's pods are not all Ready, in the scheduler's and the kubelet's words."""

    unschedulable: str | None = None
    containers: str | None = None


def pod_trouble(ctx: Context, namespace: str, selector: str) -> PodTrouble:
    """Why these pods wait: the scheduler could not place one, or a container exited, restarts or waits."""
    pods = ctx.kube.list("Pod", namespace, selector)
    return PodTrouble(unschedulable_reason(pods), container_trouble(pods))
