"""The status the operator computes in each situation of tests/unit/fixtures/kstatus (issue 14's table), from
its own pure status functions: test_kstatus.py runs these through kstatus and Argo CD's checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inference_operator.api.inference_deployment import Engine, EngineStatus
from inference_operator.controller.engine_build.desired import missing_gpu_product
from inference_operator.controller.engine_build.status import compute_build_status, no_node_build_status
from inference_operator.controller.facts import BuildPodFacts, DeploymentFacts
from inference_operator.controller.inference_deployment.status import StatusInputs, compute_status, invalid_spec_status
from inference_operator.controller.plan import Action, Mode, Plan
from tests.support.samples import load_sample
from tests.support.trtllm_fixtures import created_build, infd_with

NOW = "2026-01-01T00:00:00Z"
GENERATION = 2  # the fixtures' InferenceDeployments had one spec change
INFD = load_sample("small-model")
VLLM_PLAN = Plan(Action.APPLY, Action.DELETE, None, Engine.VLLM, Mode.DIRECT, "")
UNAVAILABLE = Plan(
    Action.DELETE,
    Action.DELETE,
    None,
    Engine.TENSORRT_LLM,
    Mode.UNAVAILABLE,
    "no GPU node has the compute capability the engine needs",
)
CHOICE = EngineStatus(selected=Engine.VLLM, reason="spec.engine.preference is vllm")


def _facts(ready: int, desired: int = 1, rolled_out: bool = True, deadline: bool = False) -> DeploymentFacts:
    return DeploymentFacts(
        name="qwen-small-vllm",
        generation=GENERATION,
        observed_generation=GENERATION,
        desired=desired,
        replicas=desired + (0 if rolled_out else 1),
        ready=ready,
        updated=desired if rolled_out else desired - 1,
        available=ready,
        engine_build=None,
        progress_deadline_exceeded=deadline,
    )


def _infd(facts: DeploymentFacts | None, replicas: int = 1, plan: Plan = VLLM_PLAN) -> dict[str, Any]:
    obs = StatusInputs(plan, {Engine.VLLM: facts, Engine.TENSORRT_LLM: None}, None, None, "http://x/v1", CHOICE)
    spec = INFD.spec.model_copy(update={"replicas": replicas})
    body = INFD.model_copy(update={"spec": spec, "metadata": {**INFD.metadata, "generation": GENERATION}})
    return compute_status(body, obs, {}, NOW)


def _build(job_conditions: list[dict[str, str]] | None, active: int = 0) -> dict[str, Any]:
    build = created_build(infd_with())
    build = build.model_copy(update={"metadata": {**build.metadata, "generation": 1}})
    job: dict[str, Any] | None = None
    pod = None
    if job_conditions is not None:
        job = {"status": {"conditions": job_conditions, "active": active}}
        if active:
            job["status"]["startTime"] = NOW
            # Building means the build container runs (controller/engine_build/status.py), as its pod shows.
            pod = BuildPodFacts("eb-3f2a9c-build-x7k2p", "Running", "kwok-h100-0", None, None, NOW)
    return compute_build_status(build, job, "eb-3f2a9c-build", "/engines/eb-3f2a9c/engine", {}, NOW, pod)


def _no_node_build() -> dict[str, Any]:
    build = created_build(infd_with())
    build = build.model_copy(
        update={
            "metadata": {**build.metadata, "generation": 1},
            "spec": build.spec.model_copy(update={"gpu_product": "NVIDIA-B200"}),
        }
    )
    message = missing_gpu_product(build, [])
    assert message is not None
    return no_node_build_status(build, message, {}, NOW)


BACKOFF = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "backoff limit"}]
COMPUTED: dict[str, Callable[[], dict[str, Any]]] = {
    "infd-rolling-update": lambda: _infd(_facts(ready=2, desired=2, rolled_out=False), replicas=2),
    "infd-failed-invalid-spec": lambda: invalid_spec_status(
        GENERATION, "spec.parallelism.tensor must divide the model's attention heads", {}, NOW
    ),
    "infd-failed-engine-unavailable": lambda: _infd(None, plan=UNAVAILABLE),
    "infd-degraded-progress-deadline": lambda: _infd(_facts(ready=0, rolled_out=False, deadline=True)),
    "infd-suspended": lambda: _infd(_facts(ready=0, desired=0), replicas=0),
    "infd-ready": lambda: _infd(_facts(ready=1)),
    "infd-deploying": lambda: _infd(_facts(ready=0, rolled_out=False)),
    "eb-pending": lambda: _build([]),
    "eb-no-node": _no_node_build,
    "eb-building": lambda: _build([], active=1),
    "eb-failed": lambda: _build(BACKOFF),
    "eb-succeeded": lambda: _build([{"type": "Complete", "status": "True"}]),
}
