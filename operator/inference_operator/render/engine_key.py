"""The engine cache key and the names that follow from it (EngineBuild, Job, store directory). Pure.

The key is a short hash of everything that changes a compiled engine's bytes. Resources with the same key
share one EngineBuild (named after the key), one Job and one engine; any other change never rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..api.engine_build import BuildKind, EngineBuildSpec
from ..api.quantization_spec import FORMAT_NEEDS
from .build_recipe import RECIPE_VERSION
from .quantize_job import QUANTIZE_RECIPE_VERSION, QUANTIZER

KEY_LENGTH = 12  # hex digits of sha256: 48 bits, no collision at any realistic number of engines

# The EngineBuildSpec fields that change the engine's bytes. Not credentials, the weight cache entry (the same
# revision's bytes), deadline, backoff, the store claim or the build's cpu, memory and scratch size: they change
# how a build runs, not what it produces. Not architecture: it follows from the model.
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


# A quantization build's key (issue 16 §2): what changes the quantized checkpoint's bytes. Not the GPU product
# nor the parallelism: calibration runs on any GPU the format allows, and the export is one unsharded checkpoint,
# so an H100 and an H200 resource, a vLLM and a TensorRT-LLM one, share it. The image carries the quantizer's
# version (nvidia-modelopt inside it); the format's GPU requirement is added below.
QUANTIZATION_KEY_FIELDS: tuple[str, ...] = (
    "kind",
    "model",
    "revision",
    "dtype",
    "quantization",
    "calibration",
    "image",
)


def engine_cache_key(spec: EngineBuildSpec) -> str:
    """Short stable hash of the fields that change the build's bytes (canonical JSON, sorted keys, sha256)."""
    if spec.kind is BuildKind.QUANTIZATION:
        data: dict[str, Any] = spec.model_dump(mode="json", include=set(QUANTIZATION_KEY_FIELDS))
        data["quantizer"] = QUANTIZER
        data["recipe"] = QUANTIZE_RECIPE_VERSION
        data["gpu"] = FORMAT_NEEDS[spec.quantization.value].label
    else:
        # The engine key is unchanged by the kind field: engines built before it keep their names.
        data = spec.model_dump(mode="json", include=set(KEY_FIELDS))
        data["recipe"] = RECIPE_VERSION
        if (spec.nodes or 1) > 1:  # a multi-node topology is a new build; one-pod engines keep their keys
            data["topology"] = {"nodes": spec.nodes, "gpusPerNode": spec.gpus_per_node}
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
    if spec.kind is BuildKind.QUANTIZATION:
        # "-q<format>" tells a quantized checkpoint from an engine at a glance (kubectl get eb).
        tag = "q" + spec.quantization.value.replace("-", "")
        slug = model_slug(spec.model)[: BUILD_NAME_MAX_LENGTH - len(key) - len(tag) - 2].rstrip("-")
        return f"{slug}-{tag}-{key}" if slug else f"{tag}-{key}"
    return f"{slug}-{key}" if slug else f"engine-{key}"


def build_job_name(build_name: str) -> str:
    """The build Job of an EngineBuild: the key is in the name, so a Job can never have a twin."""
    return f"{build_name}{BUILD_JOB_SUFFIX}"


def engine_dir(mount_path: str, build_name: str) -> str:
    """Directory of one build in the store: engine/, tokenizer/ and the COMPLETE marker live here."""
    return f"{mount_path.rstrip('/')}/{build_name}"
