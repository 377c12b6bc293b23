"""The desired state of one EngineBuild: its Job (one per key, never a twin), its status, its Event. Pure."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ...advisor.architectures import TRTLLM_ENGINE_ARCHITECTURES, trtllm_supports
from ...api.engine_build import NO_NODE_WITH_GPU_PRODUCT, BuildKind, BuildPhase, EngineBuild
from ...api.errors import InvalidSpec
from ...api.inference_deployment import TrtllmBackend
from ...api.labels import COMPONENT_BUILD, GPU_PRODUCT_LABEL, LABEL_BUILD, LABEL_COMPONENT
from ...api.quantization_spec import gpu_problem
from ...api.settings import OperatorSettings
from ...api.timestamps import parse_time
from ...api.validation import format_validation_error
from ...render.build_job import render_build_job
from ...render.build_recipe import image_recipe_problem
from ...render.engine_build import DEADLINE_FACTOR, INT8_FORMATS
from ...render.engine_key import build_job_name, engine_dir
from ...render.store import render_engine_store
from ..conditions import status_changed
from ..facts import BuildPodFacts
from .status import (
    FINISHED,
    SUCCEEDED,
    compute_build_status,
    no_node_build_status,
    refused_build_status,
)

KIND = "EngineBuild"
# How often a build that no node can run looks at the Nodes again (a kopf timer, runtime/handlers.py).
NODE_RECHECK_SECONDS = 30


def parse(body: dict[str, Any]) -> EngineBuild:
    try:
        return EngineBuild.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError as exc:
        raise InvalidSpec(format_validation_error(exc)) from None


def refusal(build: EngineBuild) -> str | None:
    """Why the operator will not build this spec (the message names the field), or None.

    An EngineBuild a person applies is checked as the InferenceDeployment path checks what it renders: an
    architecture TensorRT-LLM's engine backend does not build, an image the build recipe cannot run in.
    """
    spec = build.spec
    if spec.kind is BuildKind.QUANTIZATION:
        # A ModelOpt checkpoint is served by either engine: only the format's GPU requirement can refuse it.
        problem = gpu_problem(spec.quantization.value, spec.gpu_product)
        return (
            problem.replace("spec.resources.gpuProduct", "spec.gpuProduct").replace(
                "spec.precision.quantization", "spec.quantization"
            )
            if problem
            else None
        )
    if spec.quantization in INT8_FORMATS:
        problem = gpu_problem(spec.quantization.value, spec.gpu_product)
        if problem:
            return problem.replace("spec.resources.gpuProduct", "spec.gpuProduct").replace(
                "spec.precision.quantization", "spec.quantization"
            )
    if spec.architecture is not None and not trtllm_supports(spec.architecture, TrtllmBackend.ENGINE):
        return (
            f"spec.architecture: TensorRT-LLM's engine backend does not build {spec.architecture} "
            f"({len(TRTLLM_ENGINE_ARCHITECTURES)} architectures are supported, e.g. LlamaForCausalLM, "
            "Qwen2ForCausalLM, MistralForCausalLM; advisor/architectures.py lists them)"
        )
    return image_recipe_problem(spec.image)


def store_to_ensure(build: EngineBuild, settings: OperatorSettings) -> dict[str, Any]:
    """The engine-store claim the build names, as the InferenceDeployment path creates it (if absent; owned
    by nothing, so deleting an EngineBuild never deletes engines)."""
    store = dataclasses.replace(settings.store, claim_name=build.spec.store_claim)
    return render_engine_store(build.metadata["namespace"], store)


def gpu_nodes_selector(build: EngineBuild) -> str:
    """The label selector of the Nodes the build Job's pod may run on: its nodeSelector (render/common.py)."""
    return f"{GPU_PRODUCT_LABEL}={build.spec.gpu_product}"


def waiting_for_a_node(status: dict[str, Any]) -> bool:
    """Whether a build's status says it has no Job because no node has its GPU product (no_node_update)."""
    conditions = status.get("conditions") or []
    held = [c.get("reason") for c in conditions if c.get("type") == SUCCEEDED]
    return not status.get("jobName") and held == [NO_NODE_WITH_GPU_PRODUCT]


def missing_gpu_product(build: EngineBuild, nodes: list[dict[str, Any]] | None) -> str | None:
    """Why no build Job is created yet (the message names the field), or None: some Node carries the product, or
    the Nodes could not be read (None), and the Job goes ahead as before.

    Only "no node at all" stops the Job: nodes that exist but are busy, cordoned or tainted are the scheduler's
    to report, on the Job's pod (status.py), and a node autoscaler acts on that pod.
    """
    if nodes is None or nodes:
        return None
    product = build.spec.gpu_product
    return (
        f"spec.gpuProduct: no node in the cluster has GPU product {product} (label {GPU_PRODUCT_LABEL}); "
        f"no build Job is created until one joins (checked every {NODE_RECHECK_SECONDS}s)."
    )


def pods_selector(build: EngineBuild) -> str:
    """The label selector of the build Job's pods (its template carries the build's labels)."""
    return f"{LABEL_COMPONENT}={COMPONENT_BUILD},{LABEL_BUILD}={build.metadata['name']}"


def needs_pods(job: dict[str, Any] | None, previous: dict[str, Any]) -> bool:
    """Whether the pods tell anything the Job does not: only while the build has not finished."""
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    finished = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)
    return job is not None and not finished and previous.get("phase") not in FINISHED


def job_to_create(
    build: EngineBuild, job: dict[str, Any] | None, previous: dict[str, Any], settings: OperatorSettings
) -> dict[str, Any] | None:
    """The build Job, while none exists and no result is recorded (a Job cleaned up afterwards is not redone)."""
    if job is not None or previous.get("phase") in FINISHED:
        return None
    return render_build_job(build, settings.store, settings.hub_endpoint, settings.build_job_ttl_seconds)


@dataclass(frozen=True)
class BuildUpdate:
    status: dict[str, Any]
    changed: bool
    event: tuple[str, str, str] | None  # (type, reason, message) of a phase change
    finished_seconds: float | None  # the duration of a build that just succeeded, for the histogram
    started_at: float | None  # Unix time the running build started
    expected_seconds: float  # how long it should take

    @property
    def phase(self) -> str:
        return str(self.status["phase"])


def expected_seconds(build: EngineBuild) -> int:
    """How long the compile should take: the build deadline is sized at DEADLINE_FACTOR times it
    (render/engine_build.py)."""
    return build.spec.deadline_seconds // DEADLINE_FACTOR


def build_update(
    build: EngineBuild,
    job: dict[str, Any] | None,
    previous: dict[str, Any],
    settings: OperatorSettings,
    now: str,
    pod: BuildPodFacts | None = None,
) -> BuildUpdate:
    name = build.metadata["name"]
    engine_path = f"{engine_dir(settings.store.mount_path, name)}/engine"
    expected = expected_seconds(build)
    status = compute_build_status(build, job, build_job_name(name), engine_path, previous, now, pod, expected)
    return _update(previous, status, expected)


def refused_update(build: EngineBuild, message: str, previous: dict[str, Any], now: str) -> BuildUpdate:
    """The status of a refused spec: Failed with the reason, once (and one Warning Event)."""
    return _update(previous, refused_build_status(build, message, previous, now), expected_seconds(build))


def no_node_update(build: EngineBuild, message: str, previous: dict[str, Any], now: str) -> BuildUpdate:
    """The status of a build no node can run, and one Warning Event when it starts waiting (not per look)."""
    update = _update(previous, no_node_build_status(build, message, previous, now), expected_seconds(build))
    if waiting_for_a_node(previous):
        return dataclasses.replace(update, event=None)
    return dataclasses.replace(update, event=("Warning", NO_NODE_WITH_GPU_PRODUCT, message))


def _update(previous: dict[str, Any], status: dict[str, Any], expected: int) -> BuildUpdate:
    changed = status_changed(previous, status)
    event = None
    finished = None
    if changed and previous.get("phase") != status["phase"]:
        kind = "Warning" if status["phase"] == BuildPhase.FAILED.value else "Normal"
        event = (kind, f"Build{status['phase']}", str(status["message"]))
        if status["phase"] == BuildPhase.SUCCEEDED.value and "durationSeconds" in status:
            finished = float(status["durationSeconds"])
    started = parse_time(status.get("buildingSince"))
    return BuildUpdate(status, changed, event, finished, started.timestamp() if started else None, float(expected))
