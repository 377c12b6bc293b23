"""Everything the operator would write for one resource over its life, for `inference-operator render`. Pure.

It runs the operator's own desired-state functions (desired.py) on a simulated world, from nothing to the
converged state: each round, what the round applied is taken as rolled out and Ready, and the EngineBuild as
Succeeded. So `render` shows exactly what the reconcile would write, and cannot drift from it.
"""

from __future__ import annotations

import copy
from typing import Any

from ...api.engine_build import BuildPhase, EngineBuild
from ...api.inference_deployment import Engine, InferenceDeployment
from ...api.settings import OperatorSettings
from ...render.build_job import render_build_job
from ..plan import Action
from . import desired

# Cluster-assigned fields get placeholders: the objects are shown before any cluster exists.
ASSIGNED_BY_THE_CLUSTER = "<assigned-by-the-cluster>"
# From nothing: interim vLLM, then the engine rolls out, then the cut-over; one more round shows it is stable.
MAX_ROUNDS = 5


def _rolled_out(manifest: dict[str, Any]) -> dict[str, Any]:
    """A Deployment as the cluster reports it once every replica is updated and Ready."""
    replicas = int(manifest["spec"].get("replicas", 1))
    body = copy.deepcopy(manifest)
    body["metadata"]["generation"] = 1
    counts = ("replicas", "readyReplicas", "updatedReplicas", "availableReplicas")
    body["status"] = {"observedGeneration": 1, **dict.fromkeys(counts, replicas)}
    return body


def _built(build: dict[str, Any]) -> dict[str, Any]:
    return {**build, "status": {"phase": BuildPhase.SUCCEEDED.value}}


def _job(build: dict[str, Any], settings: OperatorSettings) -> dict[str, Any]:
    created = {**build, "metadata": {**build["metadata"], "uid": ASSIGNED_BY_THE_CLUSTER}}
    return render_build_job(
        EngineBuild.model_validate(created), settings.store, settings.hub_endpoint, settings.build_job_ttl_seconds
    )


def converged_objects(
    infd: InferenceDeployment, settings: OperatorSettings, monitoring_api: bool = True
) -> list[dict[str, Any]]:
    """The objects of the converged state, preceded by what gets there, in dependency order.

    For a compiled TensorRT-LLM engine: the engine store, the EngineBuild and its Job, the vLLM Deployment that
    serves while the engine compiles (removed at the cut-over), the TensorRT-LLM Deployment, the Service
    routing to it, the PodMonitor, the HorizontalPodAutoscaler. Raises InvalidSpec as the reconcile would.
    """
    intent = desired.intent_for(infd, settings)
    world = desired.World(deployments=dict.fromkeys(Engine), service=None, monitoring_api=monitoring_api)
    applied: dict[Engine, dict[str, Any]] = {}
    children = None
    for _ in range(MAX_ROUNDS):
        children = desired.children(intent, world, settings)
        deployments = dict(world.deployments)
        for write in children.deployments:
            if write.action is Action.APPLY and write.manifest is not None:
                applied[write.engine] = write.manifest
                deployments[write.engine] = _rolled_out(write.manifest)
            elif write.action is Action.DELETE:
                deployments[write.engine] = None
        build = _built(intent.engine_build) if intent.engine_build is not None else None
        world = desired.World(
            deployments, children.service, build, monitoring_api, children.pod_monitor, children.autoscaler
        )
    assert children is not None
    objects: list[dict[str, Any]] = []
    if intent.store is not None and intent.engine_build is not None:
        objects += [intent.store, intent.engine_build, _job(intent.engine_build, settings)]
    objects += [applied[e] for e in (Engine.VLLM, Engine.TENSORRT_LLM) if e in applied]
    objects.append(children.service)
    if children.pod_monitor is not None:
        objects.append(children.pod_monitor)
    if children.autoscaler is not None:  # spec.autoscaling: the HPA, on the engine that serves in the end
        objects.append(children.autoscaler)
    return objects


def engine_build_for(infd: InferenceDeployment, settings: OperatorSettings) -> dict[str, Any] | None:
    """The EngineBuild the reconcile would create for this resource (desired.intent_for, as the operator runs
    it), or None when it compiles no engine. Applied ahead of the resource, it is found there and reused."""
    build = desired.intent_for(infd, settings).engine_build
    return copy.deepcopy(build) if build is not None else None
