"""The desired state of one InferenceDeployment from what observe read: choice, plan, objects, status, events.

Pure: no I/O, no clock (`now` is handed in). Two steps, because the status describes the children as the writes
left them: `children` (what to write, in act.py's order) and `status_update` (status and Events, from the write
responses). `inference-operator render` runs the same two functions (lifecycle.py), so it cannot drift from
the operator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ...advisor.engine_choice import EXPLICIT, EngineChoice, choose_engine, trtllm_blocker
from ...api.engine_build import BuildPhase
from ...api.errors import InvalidSpec
from ...api.inference_deployment import (
    Engine,
    GroupsStatus,
    HeldBackStatus,
    InferenceDeployment,
    MultiNodeMode,
    Phase,
    Quantization,
    TrtllmBackend,
)
from ...api.labels import LABEL_ENGINE
from ...api.settings import OperatorSettings
from ...api.validation import format_validation_error
from ...render.autoscaler import render_hpa, replicas_handover, seed_replicas, seeded
from ...render.common import endpoint, selector_labels, serving_name
from ...render.engine_build import render_engine_build, render_quantization_build
from ...render.multinode import GroupShape, NodeFacts, group_shape, group_workload_name
from ...render.podmonitor import render_pod_monitor
from ...render.quantize_job import EXPORTED_QUANT_ALGO
from ...render.service import render_service
from ...render.store import render_engine_store
from ...render.trtllm import render_trtllm_deployment
from ...render.trtllm_multinode import render_trtllm_leader_worker_set
from ...render.vllm import MODELOPT_QUANTIZATION_ARG, render_vllm_deployment, render_vllm_leader_worker_set
from ...render.weight_cache import render_weight_cache
from ..conditions import merge_conditions, status_changed
from ..facts import BuildFacts, DeploymentFacts, build_facts, deployment_facts
from ..groups import GroupPlan, group_facts, held_back_message, plan_groups
from ..plan import Action, Plan, plan_serving
from .revision import Resolution
from .status import StatusInputs, compute_status, invalid_spec_status, wanted_replicas
from .weights import (
    build_waits_for_weights,
    serving_reads_weights,
    waiting_build,
    weights_condition,
    weights_events,
    weights_status,
)

KIND = "InferenceDeployment"
DEPLOYMENT = "Deployment"
LEADER_WORKER_SET = "LeaderWorkerSet"


@dataclass(frozen=True)
class Intent:
    """What the spec asks for before any child is read: the engine and, to compile one, its EngineBuild."""

    body: dict[str, Any]
    infd: InferenceDeployment
    choice: EngineChoice
    blocker: str | None  # why TensorRT-LLM cannot serve this model at all, when it is the choice
    store: dict[str, Any] | None  # the engine store PVC, when an engine is compiled
    engine_build: dict[str, Any] | None  # the EngineBuild wanted (created if absent, never applied over)
    shape: GroupShape | None = None  # a replica's group of nodes (multi-node), or None for one pod per replica
    weight_cache: dict[str, Any] | None = None  # the WeightCache entry wanted (None: no cache, or no key yet)
    caches: bool = False  # the resource caches its weights (spec.model.cache): its pods wait for the entry
    resolution: Resolution | None = None  # spec.model.revision as resolved for the entry's key (Hub sources)

    @property
    def previous(self) -> dict[str, Any]:
        status: dict[str, Any] = self.body.get("status") or {}
        return status


@dataclass(frozen=True)
class World:
    """The children as observe read them (None: absent)."""

    deployments: dict[Engine, dict[str, Any] | None]
    service: dict[str, Any] | None
    build: dict[str, Any] | None = None
    monitoring_api: bool = False
    pod_monitor: dict[str, Any] | None = None
    autoscaler: dict[str, Any] | None = None  # the HPA (read under spec.autoscaling, or while status names one)
    group_pods: list[dict[str, Any]] | None = None  # the LeaderWorkerSet's pods (multi-node only)
    # Each engine's workload of the other kind (Deployment <-> LeaderWorkerSet) left by a change of shape.
    stale: dict[Engine, dict[str, Any] | None] = dataclasses.field(default_factory=dict)
    now: str = ""  # when observed (the clock is read by observe; pure code is handed it)
    weight_cache: dict[str, Any] | None = None  # the WeightCache entry as read (or as just created)


@dataclass(frozen=True)
class DeploymentWrite:
    engine: Engine
    action: Action
    manifest: dict[str, Any] | None  # for APPLY
    observed: dict[str, Any] | None
    seed: dict[str, Any] | None = None  # autoscaled and absent: created with its starting replicas, then applied
    handover: dict[str, Any] | None = None  # autoscaling just turned on: the seed co-owns replicas first


@dataclass(frozen=True)
class Children:
    """The writes, in act.py's order: Service, Deployments applied, Deployments deleted, PodMonitor."""

    plan: Plan
    build: BuildFacts | None
    service: dict[str, Any]
    observed_service: dict[str, Any] | None
    deployments: tuple[DeploymentWrite, ...]
    pod_monitor: dict[str, Any] | None = None  # to apply
    observed_pod_monitor: dict[str, Any] | None = None
    delete_pod_monitor: bool = False
    autoscaler: dict[str, Any] | None = None  # the HPA to apply
    observed_autoscaler: dict[str, Any] | None = None
    delete_autoscaler: bool = False
    # The Service would route elsewhere than now: traffic moves only on fresh reads, never on a cached body
    # that may lag a pod's readiness.
    fresh_read_needed: bool = False
    groups: GroupPlan | None = None  # multi-node: the groups asked for, and any held back
    # Workloads of the kind an engine no longer has, deleted after the new one is applied and the Service
    # points at it: a change between one pod and a group replaces the old shape (docs/multi-node.md).
    stale: tuple[dict[str, Any], ...] = ()
    weight_cache: dict[str, Any] | None = None  # the WeightCache entry as observed


@dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass(frozen=True)
class StatusUpdate:
    status: dict[str, Any]
    changed: bool
    events: tuple[Event, ...] = ()
    selection: tuple[str, str] | None = None  # (engine, reason code) of a new decision, for the metric
    phase: str = ""
    active: str | None = None
    ready: bool = False


def parse(body: dict[str, Any]) -> InferenceDeployment:
    content = {k: v for k, v in body.items() if k != "status"}
    try:
        return InferenceDeployment.model_validate(content)
    except ValidationError as exc:
        raise InvalidSpec(format_validation_error(exc)) from None


def intent(body: dict[str, Any], settings: OperatorSettings, nodes: NodeFacts | None = None) -> Intent:
    """The engine choice and what it needs; InvalidSpec when the spec cannot be served as written."""
    return intent_for(parse(body), settings, body, nodes)


def needs_node_facts(infd: InferenceDeployment) -> bool:
    """Whether the multi-node choice needs the nodes of the GPU product read (no declared gpusPerNode)."""
    spec = infd.spec
    multi = spec.multi_node
    return (
        multi.mode is not MultiNodeMode.NEVER
        and multi.gpus_per_node is None
        and spec.resources.gpu_product is not None
        and spec.gpus_per_replica > (0 if multi.mode is MultiNodeMode.ALWAYS else 1)
    )


# An HPA scales a Deployment here (render/autoscaler.py); a LeaderWorkerSet's groups are not autoscaled yet.
AUTOSCALED_GROUPS = (
    "spec.autoscaling: a replica of this size spans nodes (spec.multiNode), and multi-node groups are not "
    "autoscaled yet; set spec.replicas instead"
)

# TensorRT-LLM's multi-node serving is mpirun across the group, over SSH (render/trtllm_multinode.py).
TRTLLM_MULTI_NODE = (
    "a replica of this size spans nodes, and TensorRT-LLM's multi-node launch (mpirun from the leader over SSH) "
    "needs spec.multiNode.sshSecret and an image with sshd (docs/multi-node.md)"
)


def intent_for(
    infd: InferenceDeployment,
    settings: OperatorSettings,
    body: dict[str, Any] | None = None,
    nodes: NodeFacts | None = None,
    resolution: Resolution | None = None,
) -> Intent:
    """`intent` of a parsed resource; `body` (the object as stored) carries the status of earlier decisions;
    `nodes` are the GPU product's nodes as observed (None: not read); `resolution`: spec.model.revision as
    observe resolved it (None: the revision as written is the entry's key)."""
    body = body if body is not None else {"metadata": infd.metadata}
    previous = body.get("status") or {}
    shape = group_shape(infd, nodes)
    if shape is not None and infd.spec.autoscaling is not None:
        raise InvalidSpec(AUTOSCALED_GROUPS)
    choice = choose_engine(infd, settings.decision, previous.get("engine"))
    trt = choice.selected is Engine.TENSORRT_LLM
    blocker = trtllm_blocker(infd) if trt else None
    if trt and blocker is None and shape is not None and infd.spec.multi_node.ssh_secret is None:
        blocker = TRTLLM_MULTI_NODE
    store = engine_build = None
    # Every consumer reads the entry: serving pods and groups of either engine, and the EngineBuild's Job. No
    # entry while the revision is refused or not resolved yet: nothing starts that would download meanwhile.
    caches = infd.spec.model.cache.is_on(settings.weight_cache_default)
    key = resolution.key_revision if resolution is not None else infd.spec.model.revision
    cache = render_weight_cache(infd, key) if caches and key is not None else None
    entry = cache["metadata"]["name"] if cache is not None else None
    backend = infd.spec.engine.tensorrt_llm.effective_backend
    problem = quantization_problem(infd, choice.selected, backend)
    if problem is not None:
        raise InvalidSpec(problem)
    if infd.spec.precision.calibration is not None:
        if blocker is None:
            # One quantization build for either engine (EngineKeyError, an InvalidSpec, on a GPU too old).
            store = render_engine_store(infd.metadata["namespace"], settings.store)
            engine_build = render_quantization_build(infd, settings.store, entry)
    elif trt and blocker is None and backend is TrtllmBackend.ENGINE:
        store = render_engine_store(infd.metadata["namespace"], settings.store)
        # EngineKeyError (an InvalidSpec) without a GPU
        engine_build = render_engine_build(infd, settings.store, shape, entry)
    return Intent(body, infd, choice, blocker, store, engine_build, shape, cache, caches, resolution)


# TensorRT-LLM's PyTorch backend picks a linear method per quant mode (tensorrt_llm/_torch/modules/linear.py,
# get_quant_method: FP8 QDQ/rowwise/block scales, NVFP4, W4A8, weight-only INT8/INT4, W4A16/W4A8 AWQ, MXFP4) and
# raises "unsupported quant mode" for SmoothQuant's W8A8_SQ_PER_CHANNEL; read through the search index at a commit
# not confirmed to be the v1.2.1 tag, so the 1.2.x and 1.3.x rows are both refused.
PYTORCH_NO_SMOOTHQUANT = (
    "spec.precision.quantization: int8 (W8A8 SmoothQuant) is not served by TensorRT-LLM's PyTorch backend, which "
    "has no SmoothQuant linear method; use spec.engine.tensorrtLLM.backend engine (a 1.2.x image), int8-wo, or vLLM "
    "with a compressed-tensors INT8 checkpoint"
)


def quantization_problem(infd: InferenceDeployment, selected: Engine, backend: TrtllmBackend) -> str | None:
    """Why the selected engine cannot serve the resource's quantization (the message names the field)."""
    quantization = infd.spec.precision.quantization
    trt_pytorch = selected is Engine.TENSORRT_LLM and backend is not TrtllmBackend.ENGINE
    if trt_pytorch and quantization is Quantization.INT8:
        return PYTORCH_NO_SMOOTHQUANT
    if infd.spec.precision.calibration is None:
        return None
    if selected is Engine.TENSORRT_LLM and backend is TrtllmBackend.ENGINE:
        return (
            "spec.precision.calibration: the engine backend quantizes inside its own engine build; a quantization "
            "build is served by TensorRT-LLM's PyTorch backend (spec.engine.tensorrtLLM.backend: pytorch) or vLLM"
        )
    if selected is Engine.VLLM and quantization not in MODELOPT_QUANTIZATION_ARG:
        return (
            f"spec.precision.quantization: vLLM v0.32.0 serves ModelOpt checkpoints in fp8 and nvfp4, not "
            f"{quantization.value} (no ModelOpt {EXPORTED_QUANT_ALGO[quantization.value]} method); serve it with "
            "TensorRT-LLM's PyTorch backend"
        )
    return None


def serving_kind(intent: Intent, engine: Engine) -> str:
    """The kind of an engine's serving workload: a LeaderWorkerSet for multi-node groups (TensorRT-LLM's only
    with its SSH Secret: without it TensorRT-LLM never serves a group)."""
    if intent.shape is None or (engine is Engine.TENSORRT_LLM and intent.infd.spec.multi_node.ssh_secret is None):
        return DEPLOYMENT
    return LEADER_WORKER_SET


def other_kind(kind: str) -> str:
    return DEPLOYMENT if kind == LEADER_WORKER_SET else LEADER_WORKER_SET


def workload_name(infd: InferenceDeployment, engine: Engine, kind: str) -> str:
    """An engine's serving workload's name; a LeaderWorkerSet's is kept short enough for its StatefulSets."""
    name = serving_name(infd, engine)
    return group_workload_name(name) if kind == LEADER_WORKER_SET else name


def weights_entry(intent: Intent, world: World) -> str | None:
    """The weight cache entry the serving pods (and the build) read: the wanted one, once complete."""
    if intent.weight_cache is None or (world.weight_cache or {}).get("status", {}).get("phase") != "Complete":
        return None
    return str(intent.weight_cache["metadata"]["name"])


def _deployment_manifest(
    intent: Intent,
    engine: Engine,
    plan: Plan,
    settings: OperatorSettings,
    groups: GroupPlan | None,
    weights: str | None = None,
) -> dict[str, Any]:
    if serving_kind(intent, engine) == LEADER_WORKER_SET:
        assert intent.shape is not None
        if engine is Engine.VLLM:
            lws = render_vllm_leader_worker_set(intent.infd, intent.shape, settings.hub_endpoint, weights)
        else:
            lws = render_trtllm_leader_worker_set(
                intent.infd, intent.shape, plan.trtllm_build, settings.store, settings.hub_endpoint, weights
            )
        if groups is not None and engine is plan.route:
            lws["spec"]["replicas"] = groups.replicas
        return lws
    if engine is Engine.VLLM:
        interim = intent.choice.selected is Engine.TENSORRT_LLM
        return render_vllm_deployment(
            intent.infd, settings.hub_endpoint, plan.vllm_build, settings.store, interim, weights
        )
    return render_trtllm_deployment(intent.infd, plan.trtllm_build, settings.store, settings.hub_endpoint, weights)


def _deployment_write(
    intent: Intent,
    world: World,
    engine: Engine,
    action: Action,
    plan: Plan,
    settings: OperatorSettings,
    groups: GroupPlan | None,
) -> DeploymentWrite:
    """One engine's write; an autoscaled Deployment not there yet is seeded with the other engine's replicas."""
    observed = world.deployments.get(engine)
    weights = weights_entry(intent, world)
    reads = serving_reads_weights(intent.infd, engine)
    if action is Action.APPLY and reads and intent.caches and weights is None:
        # The entry is not complete (or not named yet): what serves now keeps serving, nothing new starts.
        return DeploymentWrite(engine, Action.KEEP, None, observed)
    if action is not Action.APPLY:
        return DeploymentWrite(engine, action, None, observed)
    manifest = _deployment_manifest(intent, engine, plan, settings, groups, weights)
    seed = handover = None
    if intent.infd.spec.autoscaling is not None and observed is None:
        other = world.deployments.get(Engine.TENSORRT_LLM if engine is Engine.VLLM else Engine.VLLM)
        seed = seeded(manifest, seed_replicas(intent.infd, other))
    elif intent.infd.spec.autoscaling is not None and observed is not None and world.autoscaler is None:
        # No HPA yet: autoscaling was just turned on (managedFields are not cached to tell who owns replicas).
        handover = replicas_handover(observed)
    return DeploymentWrite(engine, action, manifest, observed, seed, handover)


def build_may_start(intent: Intent, world: World) -> bool:
    """Whether the EngineBuild may be created now (one reading a weight cache entry waits for it to complete)."""
    if intent.engine_build is None or (intent.caches and intent.weight_cache is None):
        return False
    return not build_waits_for_weights(intent.engine_build, world.weight_cache)


def wanted_build(intent: Intent, world: World) -> dict[str, Any]:
    """The EngineBuild not created yet, as the status shows it (waiting for its entry, or about to be created)."""
    assert intent.engine_build is not None
    if build_may_start(intent, world):
        return intent.engine_build
    unresolved = intent.resolution.message if intent.weight_cache is None and intent.resolution else None
    return waiting_build(intent.engine_build, world.weight_cache, unresolved)


def children(intent: Intent, world: World, settings: OperatorSettings) -> Children:
    """What to write for the world as observed."""
    infd = intent.infd
    build = None
    if intent.engine_build is not None:
        build = build_facts(world.build if world.build is not None else wanted_build(intent, world))
    facts = {e: deployment_facts(world.deployments.get(e)) for e in Engine}
    plan = plan_serving(infd, intent.choice.selected, build, facts, intent.blocker)
    groups = _group_plan(intent, world, plan.route)
    writes = tuple(
        _deployment_write(intent, world, engine, action, plan, settings, groups)
        for engine, action in ((Engine.VLLM, plan.vllm), (Engine.TENSORRT_LLM, plan.trtllm))
    )
    scaled = infd.spec.autoscaling is not None
    routed = ((world.service or {}).get("spec") or {}).get("selector", {}).get(LABEL_ENGINE)
    monitor = world.monitoring_api and infd.spec.monitoring.enabled
    return Children(
        plan=plan,
        build=build,
        service=render_service(infd, plan.route, leaders_only=serving_kind(intent, plan.route) == "LeaderWorkerSet"),
        observed_service=world.service,
        deployments=writes,
        pod_monitor=render_pod_monitor(infd) if monitor else None,
        observed_pod_monitor=world.pod_monitor,
        delete_pod_monitor=world.monitoring_api and not monitor and world.pod_monitor is not None,
        autoscaler=render_hpa(infd, plan.route) if scaled else None,
        observed_autoscaler=world.autoscaler,
        delete_autoscaler=not scaled and world.autoscaler is not None,
        fresh_read_needed=world.service is not None and routed != plan.route.value,
        groups=groups,
        stale=tuple(o for o in world.stale.values() if o is not None),
        weight_cache=world.weight_cache,
    )


def _group_plan(intent: Intent, world: World, route: Engine) -> GroupPlan | None:
    """Multi-node: how many groups of the routed engine's LeaderWorkerSet to ask for now (controller/groups.py)."""
    if intent.shape is None or serving_kind(intent, route) != LEADER_WORKER_SET:
        return None
    timeout = intent.infd.spec.multi_node.placement_timeout_seconds
    pods = [p for p in world.group_pods or [] if p["metadata"].get("labels", {}).get(LABEL_ENGINE) == route.value]
    facts = group_facts(pods, intent.shape.size, world.now, timeout) if pods else None
    previous = (intent.previous.get("groups") or {}) if world.now else {}
    return plan_groups(intent.infd.spec.desired_replicas, facts, previous, world.now, timeout)


def serving_facts(
    children: Children, after: dict[Engine, dict[str, Any] | None]
) -> dict[Engine, DeploymentFacts | None]:
    """The serving workloads' facts; a LeaderWorkerSet's Ready groups as its pods show them (groups.GroupFacts)."""
    facts = {e: deployment_facts(o) for e, o in after.items()}
    counted = children.groups.facts if children.groups is not None else None
    route = children.plan.route
    lws = facts.get(route)
    if counted is not None and lws is not None:
        facts[route] = dataclasses.replace(lws, ready=min(lws.ready, counted.ready))
    return facts


def pending_pods_selector(intent: Intent, children: Children, after: dict[Engine, dict[str, Any] | None]) -> str | None:
    """The label selector of the routed engine's pods when fewer are Ready than wanted: ask why (the scheduler)."""
    routed = serving_facts(children, after).get(children.plan.route)
    if routed is None or routed.ready >= wanted_replicas(intent.infd, routed):
        return None
    return ",".join(f"{k}={v}" for k, v in selector_labels(intent.infd, children.plan.route).items())


def status_update(
    intent: Intent,
    children: Children,
    after: dict[Engine, dict[str, Any] | None],
    unschedulable: str | None,
    now: str,
    containers: str | None = None,
) -> StatusUpdate:
    """The status of the children as the writes left them, and the Events of what changed. `unschedulable` and
    `containers` say why the routed engine's pods are not all Ready (observe.pod_trouble)."""
    infd, previous = intent.infd, intent.previous
    facts = serving_facts(children, after)
    held = children.groups.held_back if children.groups is not None else None
    timeout = infd.spec.multi_node.placement_timeout_seconds
    obs = StatusInputs(
        children.plan,
        facts,
        children.build,
        unschedulable,
        endpoint(infd),
        intent.choice.status,
        containers,
        held_back_message(held, timeout) if held else None,
    )
    status = compute_status(infd, obs, previous, now)
    if children.autoscaler is not None:
        spec = children.autoscaler["spec"]
        status["autoscaler"] = {
            "name": children.autoscaler["metadata"]["name"],
            "target": spec["scaleTargetRef"]["name"],
            "metric": spec["metrics"][0]["pods"]["metric"]["name"],
        }
    if intent.shape is not None:
        routed = facts.get(children.plan.route)
        status["groups"] = GroupsStatus(
            size=intent.shape.size,
            gpus_per_pod=intent.shape.gpus_per_pod,
            ready=routed.ready if routed else 0,
            held_back=HeldBackStatus.model_validate(held) if held else None,
        ).to_wire()
    if intent.caches:
        status["weights"] = weights_status(intent.weight_cache, children.weight_cache, intent.resolution)
        generation = int(infd.metadata.get("generation", 0))
        cond = weights_condition(status["weights"])
        status["conditions"] = [
            *status["conditions"],
            *merge_conditions(previous.get("conditions") or [], [cond], generation, now),
        ]
    changed = status_changed(previous, status)
    events, selection = _events(previous, status, intent.choice) if changed else ((), None)
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
    return StatusUpdate(status, changed, events, selection, str(status["phase"]), status["engine"].get("active"), ready)


def invalid_spec_update(body: dict[str, Any], message: str, now: str) -> StatusUpdate:
    """Nothing runs until the spec is fixed: say so once (status and one Warning Event)."""
    previous = body.get("status") or {}
    status = invalid_spec_status(int(body["metadata"].get("generation", 0)), message, previous, now)
    changed = status_changed(previous, status)
    events = (Event("Warning", "InvalidSpec", message),) if changed else ()
    return StatusUpdate(status, changed, events, phase=Phase.FAILED.value)


def _events(
    previous: dict[str, Any], new: dict[str, Any], choice: EngineChoice
) -> tuple[tuple[Event, ...], tuple[str, str] | None]:
    """One Event per phase change that is not routine progress (see ROUTINE_PHASES) and per decision the operator
    makes (an explicit preference is no decision, and the first engine to serve is no cut-over)."""
    events: list[Event] = []
    selection = None
    prev_engine, new_engine = previous.get("engine") or {}, new.get("engine") or {}
    if prev_engine.get("decisionHash") != new_engine.get("decisionHash"):
        if choice.reason_code != EXPLICIT:
            events.append(Event("Normal", "EngineSelected", f"Selected {choice.selected.value}: {choice.reason}"))
        selection = (choice.selected.value, choice.reason_code)
    before, active = prev_engine.get("active"), new_engine.get("active")
    if before and active and before != active:
        events.append(Event("Normal", "CutOver", f"The Service now routes to {active}."))
    events += _build_events(previous.get("build") or {}, new.get("build") or {})
    events += [Event(*e) for e in weights_events(previous.get("weights") or {}, new.get("weights") or {})]
    if previous.get("phase") != new.get("phase"):
        kind = "Warning" if new["phase"] in ("Failed", "Degraded") else "Normal"
        phase_event = Event(kind, new["phase"], new.get("message") or new["phase"])
        events += [] if _routine(previous.get("phase"), new["phase"]) else [phase_event]
    return tuple(events), selection


# Progress every resource makes on its own (first status, rollout, serving): status says it, with the Ready
# condition's lastTransitionTime; an Event would cost a write per resource per step. Leaving or entering
# trouble (Pending, Degraded, Failed) and suspending still get one.
ROUTINE_PHASES = frozenset({None, "Deploying", "Ready"})


def _routine(before: str | None, after: str) -> bool:
    return before in ROUTINE_PHASES and after in ROUTINE_PHASES


def _build_events(previous: dict[str, Any], new: dict[str, Any]) -> list[Event]:
    if not new or previous.get("phase") == new.get("phase"):
        return []
    kind = "Warning" if new.get("phase") == BuildPhase.FAILED.value else "Normal"
    return [Event(kind, f"EngineBuild{new['phase']}", f"Engine build {new['key']}: {new.get('message', '')}")]
