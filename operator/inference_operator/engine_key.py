"""The engine cache key, and the EngineBuild an InferenceDeployment needs. Pure: no I/O, no clock.

The key is a short hash of everything that changes a compiled engine's bytes. Resources with the same key
share one EngineBuild (named after the key), one Job and one engine; any other change never rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from . import API_VERSION
from .advisor.architectures import architecture_from_name, parameters_billions_from_name
from .api.engine_build import KIND, EngineBuildSpec
from .api.inference_deployment import Engine, InferenceDeployment
from .render.build_recipe import RECIPE_VERSION
from .render.common import (
    COMPONENT_BUILD,
    LABEL_BUILD,
    LABEL_COMPONENT,
    LABEL_ENGINE,
    LABEL_MANAGED_BY,
    LABEL_MODEL,
    LABEL_NAME,
    MANAGED_BY,
    model_label_value,
)
from .settings import StoreSettings

KEY_LENGTH = 12  # hex digits of sha256: 48 bits, no collision at any realistic number of engines

# The EngineBuildSpec fields that change the engine's bytes. Not credentials, deadline, backoff or the store
# claim: they change how a build runs, not what it produces. Not architecture: it follows from the model.
KEY_FIELDS: tuple[str, ...] = (
    "model",
    "revision",
    "dtype",
    "quantization",
    "tensor",
    "pipeline",
    "max_batch_size",
    "max_input_len",
    "max_seq_len",
    "profile",
    "image",
    "gpu_product",
    "extra_build_args",
)

# Job names carry "-build" and must stay a 63-character label value (batch.kubernetes.io/job-name).
BUILD_JOB_SUFFIX = "-build"
BUILD_NAME_MAX_LENGTH = 63 - len(BUILD_JOB_SUFFIX)

# Article ("How long does TensorRT compilation take", on H100): 7B 5-10 min, 70B 30-60 min, 200B+ 2+ hours.
# Upper bounds in minutes by size; the deadline is 3x that (download and conversion included), >= 1 hour.
_COMPILE_MINUTES: tuple[tuple[float, int], ...] = ((13, 10), (80, 60), (200, 120))
_LARGE_MINUTES_PER_200B = 120  # beyond 200B, scale linearly: 405B -> 243 min
_UNKNOWN_SIZE_MINUTES = 60  # size not told: assume a 70B-class compile
DEADLINE_FACTOR = 3
MIN_DEADLINE_SECONDS = 3600
MAX_DEADLINE_SECONDS = 172800  # the API's maximum for spec.engine.tensorrtLLM.buildDeadlineSeconds


class EngineKeyError(ValueError):
    """The resource cannot have a TensorRT-LLM engine as specified; the message names the field."""


def engine_cache_key(spec: EngineBuildSpec) -> str:
    """Short stable hash of the engine-relevant fields (canonical JSON, sorted keys, sha256)."""
    data: dict[str, Any] = spec.model_dump(mode="json", include=set(KEY_FIELDS))
    data["recipe"] = RECIPE_VERSION
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def model_slug(model_name: str) -> str:
    """meta-llama/Llama-3.1-70B-Instruct -> llama-3-1-70b-instruct (DNS-1123 characters only)."""
    repo = model_name.rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9]+", "-", repo).strip("-")


def engine_build_name(spec: EngineBuildSpec) -> str:
    """<model slug>-<key>: deterministic, readable, a DNS-1123 label short enough for the Job's name."""
    key = engine_cache_key(spec)
    slug = model_slug(spec.model)[: BUILD_NAME_MAX_LENGTH - len(key) - 1].rstrip("-")
    return f"{slug}-{key}" if slug else f"engine-{key}"


def build_job_name(build_name: str) -> str:
    """The build Job of an EngineBuild: the key is in the name, so a Job can never have a twin."""
    return f"{build_name}{BUILD_JOB_SUFFIX}"


def engine_dir(mount_path: str, build_name: str) -> str:
    """Directory of one build in the store: engine/, tokenizer/ and the COMPLETE marker live here."""
    return f"{mount_path.rstrip('/')}/{build_name}"


def parameters_billions(infd: InferenceDeployment) -> float | None:
    """spec.model.parametersBillions, else the size written in the model's name (70B, 0.5B, 8x7B -> 56)."""
    if infd.spec.model.parameters_billions is not None:
        return infd.spec.model.parameters_billions
    return parameters_billions_from_name(infd.spec.model.name)


def _compile_minutes(billions: float | None) -> float:
    if billions is None:
        return _UNKNOWN_SIZE_MINUTES
    for limit, minutes in _COMPILE_MINUTES:
        if billions <= limit:
            return minutes
    return _LARGE_MINUTES_PER_200B * billions / 200


def build_deadline_seconds(infd: InferenceDeployment) -> int:
    """The build Job's activeDeadlineSeconds: the override, else 3x the compile-time upper bound on H100.

    <=13B: 10 min -> 1 h (the floor); <=80B: 60 min -> 3 h; <=200B: 120 min -> 6 h; larger: 120 min per 200B.
    """
    override = infd.spec.engine.tensorrt_llm.build_deadline_seconds
    if override is not None:
        return override
    seconds = int(DEADLINE_FACTOR * _compile_minutes(parameters_billions(infd)) * 60)
    return min(MAX_DEADLINE_SECONDS, max(MIN_DEADLINE_SECONDS, seconds))


def engine_build_spec(infd: InferenceDeployment, store: StoreSettings) -> EngineBuildSpec:
    """The EngineBuild spec the resource needs (credentials and deadline come along, not in the key)."""
    spec = infd.spec
    trt = spec.engine.tensorrt_llm
    if spec.resources.gpu_product is None:
        raise EngineKeyError(
            "spec.resources.gpuProduct is required for TensorRT-LLM: an engine runs only on the GPU product "
            "it was built on"
        )
    return EngineBuildSpec(
        model=spec.model.name,
        revision=spec.model.revision,
        dtype=spec.precision.dtype,
        quantization=spec.precision.quantization,
        tensor=spec.parallelism.tensor,
        pipeline=spec.parallelism.pipeline,
        max_batch_size=trt.max_batch_size,
        max_input_len=trt.max_input_len,
        max_seq_len=trt.max_seq_len,
        profile=trt.build_profile,
        image=spec.trtllm_image,
        gpu_product=spec.resources.gpu_product,
        architecture=spec.model.architecture or architecture_from_name(spec.model.name),
        extra_build_args=list(trt.extra_build_args),
        credentials=spec.model.credentials,
        deadline_seconds=build_deadline_seconds(infd),
        backoff_limit=trt.build_backoff_limit,
        store_claim=store.claim_name,
    )


def engine_build_labels(spec: EngineBuildSpec, name: str) -> dict[str, str]:
    """Labels of an EngineBuild and its Job. No deployment label: an engine is shared by several resources."""
    return {
        LABEL_NAME: Engine.TENSORRT_LLM.value,
        LABEL_COMPONENT: COMPONENT_BUILD,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_ENGINE: Engine.TENSORRT_LLM.value,
        LABEL_MODEL: model_label_value(spec.model),
        LABEL_BUILD: name,
    }


def render_engine_build(infd: InferenceDeployment, store: StoreSettings) -> dict[str, Any]:
    """The EngineBuild object. No ownerReferences: an engine outlives every resource that uses it.

    Its spec also carries this resource's credentials, deadline and backoff; a second resource with the same
    key reuses the existing EngineBuild as it is (create if absent, never apply over it: its spec is
    immutable).
    """
    spec = engine_build_spec(infd, store)
    name = engine_build_name(spec)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": infd.metadata["namespace"],
            "labels": engine_build_labels(spec, name),
        },
        "spec": spec.to_wire(),
    }
