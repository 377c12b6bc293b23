"""The EngineBuild API: the record of one cached build, named after its cache key.

Two kinds (spec.kind): Engine, a compiled TensorRT-LLM engine (the engine backend of the 1.2.x line), and
Quantization, a Hugging Face checkpoint quantized once by NVIDIA Model Optimizer, which vLLM and TensorRT-LLM's
PyTorch backend both serve (issue 16 §2). Both are Jobs with the same lifecycle, store and status.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field, model_validator

from .base import ApiModel, Arg, Condition, Quantity, SecretKeySelector, cel, field_conflict
from .inference_deployment import DType, Quantization
from .quantization_spec import CalibrationSpec
from .trtllm_spec import BuildProfile

KIND = "EngineBuild"
PLURAL = "enginebuilds"
SINGULAR = "enginebuild"
SHORT_NAMES = ["eb"]
# The Succeeded condition's reason while no node can run the build (no node has spec.gpuProduct).
NO_NODE_WITH_GPU_PRODUCT = "NoNodeWithGPUProduct"


class BuildPhase(enum.StrEnum):
    PENDING = "Pending"
    BUILDING = "Building"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class BuildKind(enum.StrEnum):
    ENGINE = "Engine"
    QUANTIZATION = "Quantization"


class EngineBuildSpec(ApiModel):
    """Everything that changes the engine's bytes, plus how to fetch the checkpoint. Immutable."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            (
                "self == oldSelf",
                "spec is immutable: an engine's inputs never change; a new key makes a new build",
            ),
            (
                "!has(self.kind) || self.kind != 'Quantization' || has(self.calibration)",
                "spec.calibration is required when spec.kind is Quantization",
            ),
        )
    }

    kind: BuildKind = Field(
        default=BuildKind.ENGINE,
        description="Engine: trtllm-build compiles a TensorRT-LLM engine. Quantization: NVIDIA Model Optimizer "
        "quantizes the checkpoint to spec.quantization, calibrated as spec.calibration says, into a Hugging Face "
        "checkpoint that vLLM and TensorRT-LLM's PyTorch backend serve (the engine-only fields are then fixed).",
    )
    calibration: CalibrationSpec | None = Field(
        default=None, description="Quantization builds: the calibration set, its size and the KV-cache dtype."
    )
    model: str = Field(min_length=1, max_length=256, description="Hugging Face repository id.")
    revision: str = Field(min_length=1, max_length=128, description="Branch, tag or commit of the checkpoint.")
    dtype: DType = Field(description="dtype baked into the engine.")
    quantization: Quantization = Field(description="Quantization baked into the engine.")
    tensor: int = Field(ge=1, le=64, description="Tensor-parallel size.")
    pipeline: int = Field(ge=1, le=64, description="Pipeline-parallel size.")
    max_batch_size: int = Field(ge=1, le=4096, description="Largest batch.")
    max_input_len: int = Field(ge=1, le=1048576, description="Longest prompt, in tokens.")
    max_seq_len: int = Field(ge=1, le=1048576, description="Longest sequence, in tokens.")
    profile: BuildProfile = Field(description="Build profile (default or aggressive).")
    nodes: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Nodes one serving replica spans (a LeaderWorkerSet group; unset: one pod). Part of the key "
        "when above 1: the engine is built for that topology and serves only on it.",
    )
    gpus_per_node: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="GPUs of each node of that topology; the build Job's pod asks for this many (trtllm-build "
        "builds every rank's engine in one pod, --workers at a time).",
    )
    image: str = Field(
        min_length=1, max_length=512, description="TensorRT-LLM image that builds and must serve the engine."
    )
    gpu_product: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",  # a label value: nodes are selected by it
        description="GPU product the engine is built on and runs on, matched against the node label "
        "nvidia.com/gpu.product (e.g. NVIDIA-H100-80GB-HBM3). While no node has it, the build waits with no Job.",
    )
    architecture: str | None = Field(
        default=None, max_length=128, description="Hugging Face architecture of the model."
    )
    extra_build_args: list[Arg] = Field(
        default_factory=list, max_length=64, description="Extra trtllm-build arguments."
    )
    credentials: SecretKeySelector | None = Field(
        default=None, description="Secret key with the Hugging Face token used to download the checkpoint."
    )
    weight_cache: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="WeightCache entry of this namespace holding the checkpoint: the build Job mounts its claim "
        "read-only and reads the weights from it instead of downloading them. Unset: the Job downloads the "
        "checkpoint. Not part of the key (the revision is); the first resource that asked fills it.",
    )
    deadline_seconds: int = Field(ge=60, le=172800, description="activeDeadlineSeconds of the build Job.")
    backoff_limit: int = Field(ge=0, le=10, description="backoffLimit of the build Job.")
    store_claim: str = Field(min_length=1, max_length=253, description="PersistentVolumeClaim of the engine store.")
    cpu: Quantity | None = Field(default=None, description="CPU request of the build container.")
    memory: Quantity | None = Field(default=None, description="Memory request of the build container.")
    scratch_size: Quantity | None = Field(
        default=None, description="sizeLimit of the scratch emptyDir; the container requests it plus 2Gi of disk."
    )

    @model_validator(mode="after")
    def quantization_has_calibration(self) -> EngineBuildSpec:
        if self.kind is BuildKind.QUANTIZATION and self.calibration is None:
            raise field_conflict("calibration", "is required when spec.kind is Quantization")
        return self


class EngineBuildStatus(ApiModel):
    """Progress and result of the build."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    observed_generation: int | None = Field(default=None, description="Generation this status describes.")
    phase: BuildPhase | None = Field(default=None, description="Pending, Building, Succeeded or Failed.")
    job_name: str | None = Field(default=None, description="The build Job.")
    attempts: int | None = Field(default=None, description="Pods the build Job has started.")
    start_time: str | None = Field(
        default=None, description="When the build Job started (waiting for a node and for the image included)."
    )
    building_since: str | None = Field(
        default=None, description="While Building: when the build container of the running attempt started compiling."
    )
    expected_duration: str | None = Field(
        default=None, description="How long the compile should take (a third of spec.deadlineSeconds), e.g. 1h."
    )
    completion_time: str | None = Field(default=None, description="When the build finished.")
    duration_seconds: int | None = Field(
        default=None, description="How long the build took, from the Job's start to its end."
    )
    engine_path: str | None = Field(default=None, description="Directory of the engine in the store.")
    message: str | None = Field(default=None, description="What is happening, or why the build failed.")
    conditions: list[Condition] = Field(default_factory=list, description="Conditions.")
    kopf: dict[str, Any] | None = Field(
        default=None, description="Bookkeeping of the operator framework (kopf); not for people."
    )


class EngineBuild(ApiModel):
    """One compiled TensorRT-LLM engine, shared by every InferenceDeployment with the same cache key."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: EngineBuildSpec
    status: EngineBuildStatus | None = None
