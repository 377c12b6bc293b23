"""The EngineBuild an InferenceDeployment needs: its spec, labels, deadline and the object itself. Pure.

The key and the names derived from it are in engine_key.py; the Job compiling the engine in build_job.py.
"""

from __future__ import annotations

from typing import Any

from .. import API_VERSION
from ..advisor.architectures import architecture_from_name, parameters_billions_from_name
from ..advisor.compile_time import compile_minutes
from ..api.engine_build import KIND, BuildKind, EngineBuildSpec
from ..api.errors import InvalidSpec
from ..api.images import QUANTIZER_IMAGE
from ..api.inference_deployment import DType, Engine, InferenceDeployment, Quantization
from ..api.labels import (
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
from ..api.quantization_spec import gpu_problem
from ..api.settings import StoreSettings
from ..api.trtllm_spec import BuildProfile
from .engine_key import engine_build_name
from .multinode import GroupShape
from .sizing import build_sizes, weights_bytes

# ModelOpt calibration (PyTorch data loaders) and trtllm-build's workers share memory through /dev/shm.
BUILD_SHM_SIZE = "16Gi"

# The deadline is 3x the compile-time upper bound (download and conversion included), >= 1 hour
# (advisor/compile_time.py has the table).
DEADLINE_FACTOR = 3
MIN_DEADLINE_SECONDS = 3600
MAX_DEADLINE_SECONDS = 172800  # the API's maximum for spec.engine.tensorrtLLM.buildDeadlineSeconds


class EngineKeyError(InvalidSpec):
    """The resource cannot have a TensorRT-LLM engine as specified; the message names the field."""


def parameters_billions(infd: InferenceDeployment) -> float | None:
    """spec.model.parametersBillions, else the size written in the model's name (70B, 0.5B, 8x7B -> 56)."""
    if infd.spec.model.parameters_billions is not None:
        return infd.spec.model.parameters_billions
    return parameters_billions_from_name(infd.spec.model.name)


def build_deadline_seconds(infd: InferenceDeployment) -> int:
    """The build Job's activeDeadlineSeconds: the override, else 3x the compile-time upper bound on H100.

    <=13B: 10 min -> 1 h (the floor); <=80B: 60 min -> 3 h; <=200B: 120 min -> 6 h; larger: 120 min per 200B.
    """
    override = infd.spec.engine.tensorrt_llm.build_deadline_seconds
    if override is not None:
        return override
    seconds = int(DEADLINE_FACTOR * compile_minutes(parameters_billions(infd)) * 60)
    return min(MAX_DEADLINE_SECONDS, max(MIN_DEADLINE_SECONDS, seconds))


# The INT8 formats' GPU rule is checked for engine builds too; FP8's is left to the build, as before issue 20.
INT8_FORMATS = (Quantization.INT8, Quantization.INT8_WO)


def build_gpus(spec: EngineBuildSpec) -> int:
    """GPUs of the build Job's one pod: every rank's GPU for one node, else one node's worth of a multi-node
    topology. trtllm-build needs no group of pods: tensorrt_llm/commands/build.py (v1.2.1, parallel_build)
    builds rank after rank in one process pool of --workers processes, rank r on GPU r % workers, and each
    rank's build is independent of the others (no collective runs while building)."""
    if (spec.nodes or 1) > 1 and spec.gpus_per_node is not None:
        return min(spec.gpus_per_node, spec.tensor * spec.pipeline)
    return spec.tensor * spec.pipeline


def engine_build_spec(
    infd: InferenceDeployment, store: StoreSettings, shape: GroupShape | None = None, entry: str | None = None
) -> EngineBuildSpec:
    """The EngineBuild spec the resource needs (credentials, deadline and the weight cache entry `entry` come
    along, not in the key); `shape`: the serving group's topology when a replica spans nodes (then in the key)."""
    spec = infd.spec
    trt = spec.engine.tensorrt_llm
    if spec.resources.gpu_product is None:
        raise EngineKeyError(
            "spec.resources.gpuProduct is required for TensorRT-LLM: an engine runs only on the GPU product "
            "it was built on"
        )
    if spec.precision.quantization in INT8_FORMATS:
        # quantize.py's int8_sq/int8_wo run from Ampere on (api/quantization_spec.py): refused, not a failing Job.
        problem = gpu_problem(spec.precision.quantization.value, spec.resources.gpu_product)
        if problem is not None:
            raise EngineKeyError(problem)
    # The checkpoint is downloaded and converted before it is quantized: size the build by its 16-bit weights.
    weights = weights_bytes(parameters_billions(infd), spec.precision.dtype, Quantization.NONE)
    sizes = build_sizes(
        weights, spec.parallelism.tensor * spec.parallelism.pipeline, BUILD_SHM_SIZE, trt.build_scratch_size
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
        nodes=shape.size if shape is not None else None,
        gpus_per_node=shape.gpus_per_pod if shape is not None else None,
        image=spec.trtllm_image,
        gpu_product=spec.resources.gpu_product,
        architecture=spec.model.architecture or architecture_from_name(spec.model.name),
        extra_build_args=list(trt.extra_build_args),
        credentials=spec.model.credentials,
        weight_cache=entry,
        deadline_seconds=build_deadline_seconds(infd),
        backoff_limit=trt.build_backoff_limit,
        store_claim=store.claim_name,
        cpu=sizes.cpu,
        memory=sizes.memory,
        scratch_size=sizes.disk_size_limit,
    )


# The engine-only fields of a quantization build are fixed (max_batch_size, max_input_len, max_seq_len: 1;
# profile default), so that which resource created it never shows.


def quantization_build_spec(
    infd: InferenceDeployment, store: StoreSettings, entry: str | None = None
) -> EngineBuildSpec:
    """The quantization build the resource needs (spec.precision.calibration): refused on a GPU the format does
    not run on, with the reason. Shared by every engine: nothing of vLLM's or TensorRT-LLM's settings is in it."""
    spec = infd.spec
    calibration = spec.precision.calibration
    if calibration is None:
        raise ValueError("a quantization build needs spec.precision.calibration")
    problem = gpu_problem(spec.precision.quantization.value, spec.resources.gpu_product)
    if problem is not None:
        raise EngineKeyError(problem)
    assert spec.resources.gpu_product is not None  # gpu_problem refuses a resource without one
    gpus = spec.parallelism.tensor * spec.parallelism.pipeline
    weights = weights_bytes(parameters_billions(infd), spec.precision.dtype, Quantization.NONE)
    sizes = build_sizes(weights, gpus, BUILD_SHM_SIZE, spec.engine.tensorrt_llm.build_scratch_size)
    return EngineBuildSpec(
        kind=BuildKind.QUANTIZATION,
        calibration=calibration,
        model=spec.model.name,
        revision=spec.model.revision,
        dtype=spec.precision.dtype if spec.precision.dtype is not DType.FLOAT32 else DType.AUTO,
        quantization=spec.precision.quantization,
        tensor=spec.parallelism.tensor,
        pipeline=spec.parallelism.pipeline,
        image=QUANTIZER_IMAGE,
        gpu_product=spec.resources.gpu_product,
        architecture=spec.model.architecture or architecture_from_name(spec.model.name),
        credentials=spec.model.credentials,
        weight_cache=entry,
        deadline_seconds=build_deadline_seconds(infd),
        backoff_limit=spec.engine.tensorrt_llm.build_backoff_limit,
        store_claim=store.claim_name,
        cpu=sizes.cpu,
        memory=sizes.memory,
        scratch_size=sizes.disk_size_limit,
        max_batch_size=1,
        max_input_len=1,
        max_seq_len=1,
        profile=BuildProfile.DEFAULT,
    )


def engine_build_labels(spec: EngineBuildSpec, name: str) -> dict[str, str]:
    """Labels of an EngineBuild and its Job. No deployment label: an engine is shared by several resources.
    A quantization build is shared by both engines: its name label says what makes it (modelopt), no engine."""
    if spec.kind is BuildKind.QUANTIZATION:
        engine = {LABEL_NAME: "modelopt"}
    else:
        engine = {LABEL_NAME: Engine.TENSORRT_LLM.value, LABEL_ENGINE: Engine.TENSORRT_LLM.value}
    return {
        **engine,
        LABEL_COMPONENT: COMPONENT_BUILD,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_MODEL: model_label_value(spec.model),
        LABEL_BUILD: name,
    }


def render_engine_build(
    infd: InferenceDeployment, store: StoreSettings, shape: GroupShape | None = None, entry: str | None = None
) -> dict[str, Any]:
    """The EngineBuild object. No ownerReferences: an engine outlives every resource that uses it.

    Its spec also carries this resource's credentials, deadline, backoff and weight cache entry (`entry`,
    whose claim the build Job reads the checkpoint from); a second resource with the same
    key reuses the existing EngineBuild as it is (create if absent, never apply over it: its spec is
    immutable).
    """
    return _build_object(infd, engine_build_spec(infd, store, shape, entry))


def render_quantization_build(
    infd: InferenceDeployment, store: StoreSettings, entry: str | None = None
) -> dict[str, Any]:
    """The quantization EngineBuild (kind Quantization): like an engine, owned by nothing and shared by key."""
    return _build_object(infd, quantization_build_spec(infd, store, entry))


def _build_object(infd: InferenceDeployment, spec: EngineBuildSpec) -> dict[str, Any]:
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
