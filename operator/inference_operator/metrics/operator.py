"""The operator's own Prometheus metrics, and the helpers handlers call to update them.

Everything lives in REGISTRY, a registry of its own (not prometheus_client's global one), so tests can read
it and nothing a library registers globally leaks onto the operator's `/metrics`.

Label cardinality is bounded: fleet metrics carry only enum values (phase, engine, result, verb, kind,
reason); the per-object metrics (`..._inference_deployment_ready`, `..._engine_build_*`) carry namespace and
name, one series per existing object, as kube-state-metrics does. Because they carry a `namespace` label of
their own, the operator's ServiceMonitor or scrape job needs `honorLabels: true` (as kube-state-metrics'
does), or Prometheus renames it `exported_namespace` and the alerts lose it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector

from ..advisor.decision import ReasonCode
from ..api.engine_build import BuildPhase
from ..api.inference_deployment import Engine, Phase

PREFIX = "inference_operator_"

REGISTRY = CollectorRegistry()
# CPU, memory and open files of the operator process itself.
ProcessCollector(registry=REGISTRY)

RESULT_SUCCESS = "success"
RESULT_RETRY = "retry"
RESULT_ERROR = "error"
# success; retry = kopf.TemporaryError (waiting on something time fixes); error = anything else.
RESULTS = frozenset({RESULT_SUCCESS, RESULT_RETRY, RESULT_ERROR})

# Server-side apply, plain create (Events), JSON/merge patch (status), replace, delete.
API_VERBS = frozenset({"apply", "create", "patch", "replace", "delete"})

# Engine label of a resource whose engine is not chosen yet.
ENGINE_NONE = "none"
ENGINE_LABELS = frozenset({*(e.value for e in Engine), ENGINE_NONE})
PHASES = frozenset(p.value for p in Phase)
BUILD_PHASES = frozenset(p.value for p in BuildPhase)

# Why an engine was selected: the advisor's rule codes plus Explicit (engine.preference names the engine).
# The set is closed, so the label's cardinality is bounded.
SELECTION_REASONS: frozenset[str] = frozenset({"Explicit", *(code.value for code in ReasonCode)})

# A Kubernetes kind (CamelCase) and nothing else: object names must never become label values here.
_KIND_RE = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")

RECONCILES = Counter(
    PREFIX + "reconciles",
    "Reconciles by kind of object and result (success, retry, error).",
    ["kind", "result"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    PREFIX + "reconcile_duration_seconds",
    "Time one reconcile took, by kind of object.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
INFERENCE_DEPLOYMENTS = Gauge(
    PREFIX + "inference_deployments",
    "InferenceDeployments by phase and active engine (none before one serves).",
    ["phase", "engine"],
    registry=REGISTRY,
)
ENGINE_BUILDS = Gauge(
    PREFIX + "engine_builds",
    "EngineBuilds by phase.",
    ["phase"],
    registry=REGISTRY,
)
ENGINE_BUILD_DURATION = Histogram(
    PREFIX + "engine_build_duration_seconds",
    "Duration of finished TensorRT-LLM engine builds.",
    # 7B compiles in 5-10 minutes, 70B in 30-60, 200B+ in 2 hours or more; the build deadline is at most 48h.
    buckets=(
        60,
        120,
        300,
        600,
        900,
        1200,
        1800,
        2700,
        3600,
        5400,
        7200,
        10800,
        14400,
        21600,
        43200,
        86400,
        172800,
    ),
    registry=REGISTRY,
)
ENGINE_SELECTIONS = Counter(
    PREFIX + "engine_selections",
    "Engine decisions by selected engine and reason code.",
    ["engine", "reason"],
    registry=REGISTRY,
)
API_WRITES = Counter(
    PREFIX + "api_writes",
    "Writes to the Kubernetes API by verb and kind of object.",
    ["verb", "kind"],
    registry=REGISTRY,
)
INFERENCE_DEPLOYMENT_READY = Gauge(
    PREFIX + "inference_deployment_ready",
    "1 when the InferenceDeployment's phase is Ready, else 0; absent while it is suspended.",
    ["namespace", "name", "engine"],
    registry=REGISTRY,
)
ENGINE_BUILD_PHASE = Gauge(
    PREFIX + "engine_build_phase",
    "1 for the EngineBuild's current phase (one series per EngineBuild).",
    ["namespace", "name", "phase"],
    registry=REGISTRY,
)
ENGINE_BUILD_START_TIME = Gauge(
    PREFIX + "engine_build_start_time_seconds",
    "Unix time the running build started; present only while Building.",
    ["namespace", "name"],
    registry=REGISTRY,
)
ENGINE_BUILD_EXPECTED = Gauge(
    PREFIX + "engine_build_expected_seconds",
    "How long the running build is expected to take, from the model's size; present only while Building.",
    ["namespace", "name"],
    registry=REGISTRY,
)

_lock = threading.Lock()
# Label values currently exported per object, so a change removes the old series instead of leaving it behind.
_ready_engine: dict[tuple[str, str], str] = {}
_build_phase: dict[tuple[str, str], str] = {}


def _check(value: str, allowed: frozenset[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {sorted(allowed)}: label values must stay bounded")
    return str(value)


def _check_kind(kind: str) -> str:
    if not _KIND_RE.fullmatch(kind):
        raise ValueError(f"kind {kind!r} is not a Kubernetes kind such as InferenceDeployment")
    return str(kind)


def record_reconcile(kind: str, result: str, seconds: float) -> None:
    """Count one reconcile of an object of `kind` and observe how long it took."""
    kind = _check_kind(kind)
    RECONCILES.labels(kind=kind, result=_check(result, RESULTS, "result")).inc()
    RECONCILE_DURATION.labels(kind=kind).observe(max(seconds, 0.0))


def record_api_write(verb: str, kind: str) -> None:
    """Count one write to the API server."""
    API_WRITES.labels(verb=_check(verb, API_VERBS, "verb"), kind=_check_kind(kind)).inc()


def record_selection(engine: str, reason_code: str) -> None:
    """Count one engine decision; reason_code is a key of SELECTION_REASONS."""
    ENGINE_SELECTIONS.labels(
        engine=_check(engine, frozenset(e.value for e in Engine), "engine"),
        reason=_check(reason_code, SELECTION_REASONS, "reason"),
    ).inc()


def observe_build_duration(seconds: float) -> None:
    """Observe the duration of one finished build (succeeded or failed)."""
    ENGINE_BUILD_DURATION.observe(max(seconds, 0.0))


def set_fleet(phases_by_engine: Mapping[tuple[str, str], int], builds_by_phase: Mapping[str, int]) -> None:
    """Replace the fleet gauges with a fresh count: every (phase, engine) and build phase not given becomes 0.

    Every combination is always exported (6 phases x 3 engine labels + 4 build phases), so a phase that
    empties reads 0 instead of keeping its last count, and `sum by (phase)` never misses a row.
    """
    for phase, engine in phases_by_engine:
        _check(phase, PHASES, "phase")
        _check(engine, ENGINE_LABELS, "engine")
    for build_phase in builds_by_phase:
        _check(build_phase, BUILD_PHASES, "build phase")
    counts = {(str(p), str(e)): n for (p, e), n in phases_by_engine.items()}
    builds = {str(p): n for p, n in builds_by_phase.items()}
    with _lock:
        for phase in sorted(PHASES):
            for engine in sorted(ENGINE_LABELS):
                INFERENCE_DEPLOYMENTS.labels(phase=phase, engine=engine).set(counts.get((phase, engine), 0))
        for build_phase in sorted(BUILD_PHASES):
            ENGINE_BUILDS.labels(phase=build_phase).set(builds.get(build_phase, 0))


def set_resource_ready(namespace: str, name: str, engine: str | None, ready: bool) -> None:
    """Export whether one InferenceDeployment is Ready, with the engine serving it (None: not chosen yet).

    For a suspended resource (replicas 0) call forget_resource instead: nothing is meant to be ready.
    """
    engine_label = _check(engine or ENGINE_NONE, ENGINE_LABELS, "engine")
    key = (namespace, name)
    with _lock:
        previous = _ready_engine.get(key)
        if previous is not None and previous != engine_label:
            INFERENCE_DEPLOYMENT_READY.remove(namespace, name, previous)
        _ready_engine[key] = engine_label
        series = INFERENCE_DEPLOYMENT_READY.labels(namespace=namespace, name=name, engine=engine_label)
        series.set(1 if ready else 0)


def forget_resource(namespace: str, name: str) -> None:
    """Drop the per-resource series of a deleted (or suspended) InferenceDeployment."""
    with _lock:
        previous = _ready_engine.pop((namespace, name), None)
        if previous is not None:
            INFERENCE_DEPLOYMENT_READY.remove(namespace, name, previous)


def set_build_state(
    namespace: str,
    name: str,
    phase: str,
    *,
    started_at: float | None = None,
    expected_seconds: float | None = None,
) -> None:
    """Export one EngineBuild's phase; while Building, also when it started and how long it should take.

    started_at is a Unix time (status.buildingSince: the compile, not the wait for a node); EngineBuildSlow fires when
    now - started_at > expected_seconds.
    """
    phase = _check(phase, BUILD_PHASES, "build phase")
    key = (namespace, name)
    with _lock:
        previous = _build_phase.get(key)
        if previous is not None and previous != phase:
            ENGINE_BUILD_PHASE.remove(namespace, name, previous)
        _build_phase[key] = phase
        ENGINE_BUILD_PHASE.labels(namespace=namespace, name=name, phase=phase).set(1)
        if phase == BuildPhase.BUILDING and started_at is not None and expected_seconds is not None:
            ENGINE_BUILD_START_TIME.labels(namespace=namespace, name=name).set(started_at)
            ENGINE_BUILD_EXPECTED.labels(namespace=namespace, name=name).set(expected_seconds)
        else:
            _remove_build_timing(namespace, name)


def forget_build(namespace: str, name: str) -> None:
    """Drop the per-build series of a deleted EngineBuild."""
    with _lock:
        previous = _build_phase.pop((namespace, name), None)
        if previous is not None:
            ENGINE_BUILD_PHASE.remove(namespace, name, previous)
        _remove_build_timing(namespace, name)


def _remove_build_timing(namespace: str, name: str) -> None:
    for gauge in (ENGINE_BUILD_START_TIME, ENGINE_BUILD_EXPECTED):
        # Older prometheus-client releases raise KeyError for a label set never exported; absent is the goal.
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, name)


def exposed_metric_names() -> frozenset[str]:
    """Every series name REGISTRY can expose (counters with _total, histograms with _bucket/_sum/_count)."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return frozenset(names)


def start_metrics_server(port: int) -> None:
    """Serve REGISTRY on http://0.0.0.0:<port>/metrics from a daemon thread."""
    start_http_server(port, registry=REGISTRY)
