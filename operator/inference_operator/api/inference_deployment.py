"""The InferenceDeployment API (inference-operator.dev/v1alpha1): the models are the source of the CRD."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field, field_validator, model_validator

from .autoscaling import TRTLLM_NEVER, AutoscalerStatus, AutoscalingSignal, AutoscalingSpec, trtllm_series
from .base import (
    ApiModel,
    Arg,
    Condition,
    IntOrPercent,
    Quantity,
    SecretKeySelector,
    cel,
    field_conflict,
)
from .env_vars import ENV_SCHEMA, EnvVar, unique_env_names
from .images import TRTLLM_IMAGE, VLLM_CPU_IMAGE, VLLM_IMAGE
from .quantization_spec import FORMAT_NEEDS, CalibrationSpec
from .trtllm_recipes import TrtllmBackend as TrtllmBackend  # noqa: PLC0414 - re-exported with the API's other enums
from .trtllm_spec import TensorrtLlmSpec
from .weight_cache import ModelCacheSpec, WeightsStatus

KIND = "InferenceDeployment"
PLURAL = "inferencedeployments"
SINGULAR = "inferencedeployment"
SHORT_NAMES = ["infd"]

# Kubernetes object names of children are derived from the resource's name plus a suffix of at most 8
# characters, and Services must be DNS-1035 labels: 52 leaves room for both.
NAME_MAX_LENGTH = 52
NAME_PATTERN = "^[a-z]([-a-z0-9]*[a-z0-9])?$"  # a DNS-1035 label: the Service keeps the resource's name


class EnginePreference(enum.StrEnum):
    VLLM = "vllm"
    TENSORRT_LLM = "tensorrt-llm"
    AUTO = "auto"


class Engine(enum.StrEnum):
    """An engine that actually serves."""

    VLLM = "vllm"
    TENSORRT_LLM = "tensorrt-llm"


class Fallback(enum.StrEnum):
    VLLM = "vllm"
    NONE = "none"


class DType(enum.StrEnum):
    AUTO = "auto"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"


class Quantization(enum.StrEnum):
    NONE = "none"
    FP8 = "fp8"
    INT4_AWQ = "int4-awq"
    INT4_GPTQ = "int4-gptq"
    NVFP4 = "nvfp4"  # only from a quantization build (spec.precision.calibration)
    INT8 = "int8"  # W8A8 SmoothQuant: INT8 weights and activations
    INT8_WO = "int8-wo"  # INT8 weight-only (W8A16)


class WorkloadProfile(enum.StrEnum):
    INTERACTIVE = "interactive"
    BALANCED = "balanced"
    BATCH = "batch"


class RolloutStrategy(enum.StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    RECREATE = "Recreate"


class Phase(enum.StrEnum):
    PENDING = "Pending"
    DEPLOYING = "Deploying"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


class ModelSpec(ApiModel):
    """Which model to serve, from the Hugging Face Hub."""

    name: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$",
        description="Hugging Face repository id of the model, e.g. meta-llama/Llama-3.1-8B-Instruct.",
    )
    revision: str = Field(
        default="main",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="Branch, tag or commit of the repository. Pin a commit in production: a moving branch "
        "changes the weights under a running deployment and forces a TensorRT-LLM rebuild.",
    )
    served_model_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The model name clients send in OpenAI requests. Defaults to model.name.",
    )
    architecture: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Hugging Face `architectures` entry of the model's config.json, e.g. LlamaForCausalLM. "
        "Used to decide whether TensorRT-LLM can build it; inferred from model.name when omitted.",
    )
    num_layers: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="Hidden layers of the model (num_hidden_layers in its config.json); parallelism.pipeline may "
        "not exceed it. Known for common models (advisor/architectures.py) when omitted.",
    )
    parameters_billions: float | None = Field(
        default=None,
        gt=0,
        le=10000,
        description="Size of the model in billions of parameters. Sizes the build deadline and the compile-cost "
        "estimate; inferred from model.name (e.g. 70B) when omitted.",
    )
    credentials: SecretKeySelector | None = Field(
        default=None,
        description="Secret key holding a Hugging Face token, for gated models. Passed to the pods as HF_TOKEN by "
        "reference; the operator never reads it.",
    )
    cache: ModelCacheSpec = Field(
        default_factory=ModelCacheSpec,
        description="Weight cache: download the weights once per (source, model, revision) for every replica.",
    )


class VllmSpec(ApiModel):
    """Settings of the vLLM engine (also used while a TensorRT-LLM engine compiles, and as the fallback)."""

    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description=f"vLLM OpenAI-compatible server image. Unset: the operator's pinned release ({VLLM_IMAGE}, "
        "or its CPU build in CPU mode), which follows operator upgrades.",
    )
    extra_args: list[Arg] = Field(
        default_factory=list,
        max_length=64,
        description="Extra command-line arguments, appended after the ones the operator sets (so they win).",
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=64,
        description="Extra environment variables (one entry per name).",
        json_schema_extra=ENV_SCHEMA,
    )

    @field_validator("env")
    @classmethod
    def env_names_unique(cls, env: list[EnvVar]) -> list[EnvVar]:
        return unique_env_names(env)


class EngineSpec(ApiModel):
    """Which engine serves, and what happens when TensorRT-LLM cannot."""

    preference: EnginePreference = Field(
        default=EnginePreference.VLLM,
        description="`vllm`, `tensorrt-llm`, or `auto` to let the operator choose by expected volume and model "
        "(the reason lands in status.engine).",
    )
    fallback: Fallback = Field(
        default=Fallback.VLLM,
        description="What serves when TensorRT-LLM cannot (unsupported architecture, failed build): `vllm` keeps "
        "serving with vLLM (phase Degraded); `none` fails the resource.",
    )
    serve_while_building: bool = Field(
        default=True,
        description="Serve with vLLM while the TensorRT-LLM engine compiles, then cut over with no downtime.",
    )
    vllm: VllmSpec = Field(default_factory=VllmSpec, description="vLLM settings.")
    tensorrt_llm: TensorrtLlmSpec = Field(
        default_factory=TensorrtLlmSpec, alias="tensorrtLLM", description="TensorRT-LLM settings."
    )


# vLLM refuses to start with float32 and any quantization: the configs behind fp8, awq_marlin and gptq_marlin
# (Fp8Config, AutoAWQConfig, AutoGPTQConfig) list only bfloat16 and float16 in get_supported_act_dtypes, and
# _get_quantization_config in vllm/config/vllm.py raises "float32 is not supported for quantization method"
# (vllm-project/vllm v0.32.0, vllm/model_executor/layers/quantization/{fp8,auto_awq,auto_gptq}.py).
FLOAT32_QUANTIZED = (
    "must be auto, float16 or bfloat16 when spec.precision.quantization is set: the fp8, AWQ and GPTQ kernels "
    "run only in float16 or bfloat16"
)


CALIBRATION_FORMATS = (
    "needs spec.precision.quantization fp8, nvfp4, int4-awq or int8-wo: the formats NVIDIA Model Optimizer "
    "quantizes to that an engine here serves (int8, W8A8 SmoothQuant, is quantized inside TensorRT-LLM's engine "
    "build instead: no engine here serves a ModelOpt W8A8_SQ_PER_CHANNEL checkpoint)"
)
NVFP4_NEEDS_CALIBRATION = (
    "nvfp4 needs spec.precision.calibration: an NVFP4 checkpoint is made by a quantization build, no engine "
    "quantizes to it at load time"
)


class PrecisionSpec(ApiModel):
    """Numeric precision. For TensorRT-LLM both are baked into the engine: a change means a rebuild."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            (
                "!has(self.dtype) || !has(self.quantization) || self.dtype != 'float32' || self.quantization == 'none'",
                f"spec.precision.dtype {FLOAT32_QUANTIZED}",
            ),
            (
                "!has(self.calibration) || (has(self.quantization) && self.quantization in ['fp8', 'nvfp4', "
                "'int4-awq', 'int8-wo'])",
                f"spec.precision.calibration {CALIBRATION_FORMATS}",
            ),
            (
                "has(self.calibration) || !has(self.quantization) || self.quantization != 'nvfp4'",
                f"spec.precision.quantization: {NVFP4_NEEDS_CALIBRATION}",
            ),
        )
    }

    dtype: DType = Field(
        default=DType.AUTO,
        description="Activation and weight dtype; auto follows the checkpoint. float32 only without quantization.",
    )
    quantization: Quantization = Field(
        default=Quantization.NONE,
        description="Weight quantization: none, fp8 (Hopper/Ada), int4-awq or int4-gptq (needs a checkpoint "
        "quantized that way for vLLM), nvfp4 (Blackwell; only with calibration), int8 (W8A8 SmoothQuant) or int8-wo "
        "(INT8 weight-only), both Ampere or newer: TensorRT-LLM's engine build quantizes to them, vLLM needs a "
        "compressed-tensors checkpoint quantized that way.",
    )
    calibration: CalibrationSpec | None = Field(
        default=None,
        description="Quantize the checkpoint once with NVIDIA Model Optimizer to spec.precision.quantization (fp8, "
        "nvfp4, int4-awq or int8-wo), calibrated on this set; a cached quantization Job shared by every resource and "
        "engine with the same key. The unquantized model serves until the quantized checkpoint is ready.",
    )

    @model_validator(mode="after")
    def float32_only_unquantized(self) -> PrecisionSpec:
        if self.dtype is DType.FLOAT32 and self.quantization is not Quantization.NONE:
            raise field_conflict("dtype", FLOAT32_QUANTIZED)
        return self

    @model_validator(mode="after")
    def calibration_has_a_format(self) -> PrecisionSpec:
        if self.calibration is not None and self.quantization.value not in FORMAT_NEEDS:
            raise field_conflict("calibration", CALIBRATION_FORMATS)
        if self.calibration is None and self.quantization is Quantization.NVFP4:
            raise field_conflict("quantization", NVFP4_NEEDS_CALIBRATION)
        return self


class ParallelismSpec(ApiModel):
    """How a replica splits the model over GPUs. GPUs per replica = tensor x pipeline."""

    tensor: int = Field(default=1, ge=1, le=64, description="Tensor-parallel size.")
    pipeline: int = Field(default=1, ge=1, le=64, description="Pipeline-parallel size.")


class Toleration(ApiModel):
    """A Kubernetes toleration added to the engine pods."""

    key: str | None = Field(default=None, max_length=316, description="Taint key.")
    operator: str | None = Field(default=None, pattern=r"^(Exists|Equal)$", description="Exists or Equal.")
    value: str | None = Field(default=None, max_length=63, description="Taint value.")
    effect: str | None = Field(
        default=None, pattern=r"^(NoSchedule|PreferNoSchedule|NoExecute)$", description="Taint effect."
    )
    toleration_seconds: int | None = Field(default=None, description="For NoExecute: how long to stay.")


class ResourcesSpec(ApiModel):
    """Where and with what a replica runs."""

    gpu_product: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        description="GPU product, matched against the node label nvidia.com/gpu.product, e.g. "
        "NVIDIA-H100-80GB-HBM3. Also part of a TensorRT-LLM engine's cache key.",
    )
    gpus_per_replica: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="GPUs per replica. Defaults to parallelism.tensor x parallelism.pipeline; 0 runs vLLM's CPU "
        "build (to try the operator on a laptop cluster).",
    )
    cpu: Quantity | None = Field(
        default=None,
        description="CPU request and limit of the engine container. Default: a request of 2 cores plus one per "
        "GPU (4 in CPU mode) and no limit (docs/resources.md).",
    )
    memory: Quantity | None = Field(
        default=None,
        description="Memory request and limit of the engine container. Default: a request (no limit) of the "
        "model's weights plus shmSize plus 4Gi per engine process (docs/resources.md).",
    )
    model_cache_size: Quantity | None = Field(
        default=None,
        description="sizeLimit of the model-cache emptyDir on node disk; the container requests it (plus 2Gi) "
        "as ephemeral-storage. Default: 1.25x the model's weights plus 4Gi (docs/resources.md).",
    )
    shm_size: Quantity = Field(
        default="8Gi", description="Size of /dev/shm (a memory emptyDir); tensor parallelism needs it."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Extra node labels the engine pods require."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list,
        max_length=32,
        description="Extra tolerations. The nvidia.com/gpu taint is always tolerated on GPU replicas.",
    )


class ReadinessProbeSpec(ApiModel):
    """Overrides of the readiness probe's timing."""

    initial_delay_seconds: int | None = Field(default=None, ge=0, le=86400, description="Delay before the first probe.")
    period_seconds: int | None = Field(default=None, ge=1, le=3600, description="Seconds between probes.")
    timeout_seconds: int | None = Field(default=None, ge=1, le=3600, description="Seconds before a probe times out.")
    failure_threshold: int | None = Field(default=None, ge=1, le=100000, description="Failures before giving up.")


class ProbeSpec(ReadinessProbeSpec):
    """Overrides of a startup or liveness probe's timing."""

    # Kubernetes' probe-level grace period (GA in 1.28); the API server refuses it on readiness probes.
    termination_grace_period_seconds: int | None = Field(
        default=None,
        ge=1,
        le=3600,
        description="Seconds the engine gets to exit after this probe fails, before it is killed (the pod's "
        "grace period, 120 s, otherwise). A hung engine ignores SIGTERM: a short value restarts it sooner.",
    )


class ProbesSpec(ApiModel):
    """Probe overrides; the defaults suit large models."""

    startup: ProbeSpec | None = Field(
        default=None, description="Startup probe; by default it allows 30 minutes for the model to load."
    )
    readiness: ReadinessProbeSpec | None = Field(default=None, description="Readiness probe.")
    liveness: ProbeSpec | None = Field(default=None, description="Liveness probe.")


class RolloutSpec(ApiModel):
    """How a change rolls out to the engine pods."""

    strategy: RolloutStrategy = Field(
        default=RolloutStrategy.ROLLING_UPDATE,
        description="RollingUpdate keeps serving during a change but needs GPUs for the surge; Recreate frees "
        "the GPUs first.",
    )
    max_surge: IntOrPercent | None = Field(
        default=None, description="RollingUpdate: extra pods during a rollout, a number or a percentage (25%)."
    )
    max_unavailable: IntOrPercent | None = Field(
        default=None, description="RollingUpdate: pods that may be down, a number or a percentage (25%)."
    )


class ServingSpec(ApiModel):
    """The OpenAI-compatible endpoint."""

    port: int = Field(default=8000, ge=1024, le=65535, description="HTTP port of the OpenAI API and /metrics.")
    rollout: RolloutSpec = Field(default_factory=RolloutSpec, description="Rollout strategy.")
    probes: ProbesSpec = Field(default_factory=ProbesSpec, description="Probe overrides.")


class MultiNodeMode(enum.StrEnum):
    AUTO = "Auto"
    ALWAYS = "Always"
    NEVER = "Never"


class MultiNodeSpec(ApiModel):
    """Replicas larger than one node: a LeaderWorkerSet of groups instead of a Deployment (docs/multi-node.md)."""

    mode: MultiNodeMode = Field(
        default=MultiNodeMode.AUTO,
        description="Auto: a replica spans nodes when it needs more GPUs than one node of resources.gpuProduct "
        "has (gpusPerNode, else the largest nvidia.com/gpu allocatable of those nodes). Always: a LeaderWorkerSet "
        "even when one node would do (needs gpusPerNode or readable nodes). Never: always one pod per replica.",
    )
    gpus_per_node: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="GPUs of each node a group's pod runs on, declared; by default read from the nodes of "
        "resources.gpuProduct. Each pod of a group asks for this many; it must divide tensor x pipeline.",
    )
    exclusive_topology: str | None = Field(
        default=None,
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        description="A node label key (e.g. topology.kubernetes.io/zone, or a rack or NVLink-domain label): each "
        "group gets a domain of that label to itself (LeaderWorkerSet's exclusive-topology).",
    )
    ssh_secret: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="TensorRT-LLM groups only: a Secret with the keys ssh-privatekey and authorized_keys. mpirun "
        "on the leader starts the other ranks of the group's MPI world over SSH (port 2222), so each pod runs an "
        "SSH server keyed by it; the image must have sshd (docs/multi-node.md). Without it, a TensorRT-LLM "
        "replica that spans nodes is not served by TensorRT-LLM.",
    )
    placement_timeout_seconds: int = Field(
        default=300,
        ge=30,
        le=86400,
        description="How long a group may wait with some of its pods placed and others unschedulable before "
        "the operator removes the unplaced groups, so that none holds GPUs it cannot use; it retries after as "
        "long again.",
    )


class MonitoringSpec(ApiModel):
    """Prometheus scraping of the engine pods."""

    enabled: bool = Field(default=True, description="Scrape the engines' /metrics (PodMonitor or annotations).")
    interval: str = Field(default="30s", pattern=r"^[0-9]+(ms|s|m|h)$", description="Scrape interval, e.g. 30s.")


class WorkloadSpec(ApiModel):
    """What the deployment is expected to serve; drives `engine.preference: auto` and the cost figures."""

    tokens_per_month: int | None = Field(
        default=None, ge=0, description="Expected tokens served per month (prompt plus generated)."
    )
    profile: WorkloadProfile = Field(
        default=WorkloadProfile.BALANCED,
        description="interactive (latency first: leans to vLLM), batch (throughput first: leans to TensorRT-LLM) "
        "or balanced.",
    )
    stable: bool = Field(
        default=False,
        description="Declares a stable, long-lived deployment of a mature model: between 100M and 1B tokens a "
        "month, auto then picks TensorRT-LLM.",
    )


class CostSpec(ApiModel):
    """Overrides of the cost model's defaults."""

    gpu_hourly_price: float | None = Field(
        default=None, ge=0, le=10000, description="Price of one GPU-hour, in dollars (at most 10,000)."
    )
    vllm_tokens_per_gpu_hour: int | None = Field(
        default=None, ge=1, description="Measured vLLM throughput, tokens per GPU-hour."
    )
    tensorrt_llm_tokens_per_gpu_hour: int | None = Field(
        default=None,
        ge=1,
        alias="tensorrtLLMTokensPerGpuHour",
        description="Measured TensorRT-LLM throughput, tokens per GPU-hour.",
    )


REPLICAS_WITH_AUTOSCALING = (
    "spec.replicas must be unset when spec.autoscaling is set: the HorizontalPodAutoscaler owns the replica count"
)
TRTLLM_NOT_EXPORTED = (
    "must be kvCacheUsage when TensorRT-LLM may serve: no TensorRT-LLM release exports a queue or running-requests "
    "gauge (api/trtllm_recipes.py)"
)


class InferenceDeploymentSpec(ApiModel):
    """The desired LLM deployment."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            (
                "!has(self.resources.gpusPerReplica) || self.resources.gpusPerReplica == 0 || "
                "self.resources.gpusPerReplica == self.parallelism.tensor * self.parallelism.pipeline",
                "spec.resources.gpusPerReplica must be 0 (CPU mode) or equal parallelism.tensor x parallelism.pipeline",
            ),
            (
                "!has(self.resources.gpusPerReplica) || self.resources.gpusPerReplica != 0 || "
                "self.engine.preference == 'vllm'",
                "spec.engine.preference must be vllm when spec.resources.gpusPerReplica is 0: TensorRT-LLM "
                "needs NVIDIA GPUs",
            ),
            (
                "!has(self.resources.gpusPerReplica) || self.resources.gpusPerReplica != 0 || "
                "(self.parallelism.tensor == 1 && self.parallelism.pipeline == 1)",
                "spec.parallelism must be 1 x 1 when spec.resources.gpusPerReplica is 0 (CPU mode)",
            ),
            (
                "self.engine.preference != 'tensorrt-llm' || has(self.resources.gpuProduct)",
                "spec.resources.gpuProduct is required with engine.preference tensorrt-llm: an engine is built for "
                "one GPU product",
            ),
            (
                "self.engine.tensorrtLLM.maxInputLen < self.engine.tensorrtLLM.maxSeqLen",
                "spec.engine.tensorrtLLM.maxInputLen must be smaller than maxSeqLen",
            ),
            ("!has(self.autoscaling) || !has(self.replicas)", REPLICAS_WITH_AUTOSCALING),
            (
                "!has(self.autoscaling) || self.engine.preference == 'vllm' || "
                f"!(self.autoscaling.signal in {TRTLLM_NEVER})",
                f"spec.autoscaling.signal {TRTLLM_NOT_EXPORTED}",
            ),
        )
    }

    model: ModelSpec = Field(description="The model to serve.")
    engine: EngineSpec = Field(default_factory=EngineSpec, description="Engine choice and per-engine settings.")
    precision: PrecisionSpec = Field(default_factory=PrecisionSpec, description="dtype and quantization.")
    parallelism: ParallelismSpec = Field(default_factory=ParallelismSpec, description="Tensor and pipeline sizes.")
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec, description="GPUs, placement and sizes.")
    replicas: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Serving replicas; 0 suspends the deployment. Default 1; must be unset with autoscaling.",
    )
    autoscaling: AutoscalingSpec | None = Field(
        default=None,
        description="Size the replicas by the serving engine's load through a HorizontalPodAutoscaler "
        "(docs/autoscaling.md); the operator then never writes the Deployment's replicas.",
    )
    serving: ServingSpec = Field(default_factory=ServingSpec, description="Endpoint, rollout and probes.")
    multi_node: MultiNodeSpec = Field(
        default_factory=MultiNodeSpec, description="Replicas that span nodes (LeaderWorkerSet groups)."
    )
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec, description="Prometheus scraping.")
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec, description="Expected volume and profile.")
    cost: CostSpec = Field(default_factory=CostSpec, description="Cost-model overrides.")

    @model_validator(mode="after")
    def autoscaling_fits(self) -> InferenceDeploymentSpec:
        scaling = self.autoscaling
        if scaling is None:
            return self
        if self.replicas is not None:
            raise field_conflict("replicas", "must be unset when spec.autoscaling is set")
        trt_may_serve = self.engine.preference is not EnginePreference.VLLM and self.gpus_per_replica > 0
        recipe = self.engine.tensorrt_llm.resolved_recipe
        if trt_may_serve and trtllm_series(scaling.signal, recipe) is None:
            raise field_conflict(
                "autoscaling",
                f"signal {scaling.signal.value} is not exported by TensorRT-LLM {recipe.name.value} "
                f"(api/trtllm_recipes.py); use {AutoscalingSignal.KV_CACHE_USAGE.value} with a 1.3.0rc21+ image, "
                "or engine.preference vllm",
            )
        return self

    @property
    def desired_replicas(self) -> int:
        """The replicas the operator itself sets (spec.replicas, default 1); autoscaling: the HPA's minimum."""
        if self.autoscaling is not None:
            return self.autoscaling.min_replicas
        return 1 if self.replicas is None else self.replicas

    @property
    def gpus_per_replica(self) -> int:
        """GPUs each replica asks for; 0 means CPU mode."""
        if self.resources.gpus_per_replica is not None:
            return self.resources.gpus_per_replica
        return self.parallelism.tensor * self.parallelism.pipeline

    @property
    def vllm_image(self) -> str:
        """The vLLM image to run: the user's, else the pinned GPU or CPU build."""
        if self.engine.vllm.image:
            return self.engine.vllm.image
        return VLLM_CPU_IMAGE if self.gpus_per_replica == 0 else VLLM_IMAGE

    @property
    def trtllm_image(self) -> str:
        return self.engine.tensorrt_llm.image or TRTLLM_IMAGE

    @property
    def served_model_name(self) -> str:
        return self.model.served_model_name or self.model.name


class EngineCost(ApiModel):
    """One engine's monthly figures."""

    tokens_per_gpu_hour: int = Field(description="Throughput assumed, tokens per GPU-hour.")
    gpu_hours_per_month: float = Field(description="GPU-hours a month for the expected volume.")
    cost_per_month: float = Field(description="Dollars a month for the expected volume.")


class PreparationPath(enum.StrEnum):
    """The one-off preparation a serving path needs (issue 16 §3)."""

    ENGINE_COMPILE = "EngineCompile"  # a TensorRT-LLM engine (the legacy engine backend, 1.2.x)
    QUANTIZATION = "Quantization"  # a ModelOpt-quantized checkpoint, for either engine
    NONE = "None"  # the checkpoint as it is (vLLM, or TensorRT-LLM's PyTorch backend in bf16)


class EngineStatus(ApiModel):
    """The engine choice, and why."""

    selected: Engine | None = Field(default=None, description="The engine the operator aims to serve with.")
    active: Engine | None = Field(default=None, description="The engine serving the Service right now.")
    path: PreparationPath | None = Field(
        default=None,
        description="What the serving pods run on: EngineCompile (a compiled TensorRT-LLM engine), Quantization (a "
        "quantized checkpoint) or None (the checkpoint as it is).",
    )
    reason: str = Field(default="", description="Why this engine was selected, in one line.")
    decision_hash: str | None = Field(
        default=None, description="Hash of the decision's inputs; the choice changes only when they do."
    )
    vllm: EngineCost | None = Field(default=None, description="vLLM's monthly figures.")
    tensorrt_llm: EngineCost | None = Field(default=None, alias="tensorrtLLM", description="TensorRT-LLM's figures.")
    savings_per_month: float | None = Field(default=None, description="vLLM cost minus TensorRT-LLM cost, monthly.")
    compile_payback_days: float | None = Field(
        default=None, description="Days of savings that pay for the compile's GPU time."
    )


class BuildStatus(ApiModel):
    """The TensorRT-LLM engine build this deployment uses."""

    key: str = Field(description="Engine cache key (the EngineBuild's name).")
    phase: str = Field(default="Pending", description="Pending, Building, Succeeded or Failed.")
    message: str = Field(default="", description="What the build is doing or why it failed.")


class HeldBackStatus(ApiModel):
    """Groups removed because they could not be placed whole (controller/groups.py)."""

    wanted: int = Field(description="Groups the spec asks for.")
    replicas: int = Field(description="Groups asked of the LeaderWorkerSet meanwhile.")
    since: str = Field(description="When the groups were removed.")
    retry_at: str = Field(description="When the operator asks for every group again.")
    reason: str = Field(default="", description="The scheduler's message for the pod that could not be placed.")


class GroupsStatus(ApiModel):
    """A multi-node deployment's groups (one group per replica)."""

    size: int = Field(description="Pods per group, one per node.")
    gpus_per_pod: int = Field(description="GPUs each pod of a group holds.")
    ready: int = Field(default=0, description="Groups whose pods are all Ready.")
    held_back: HeldBackStatus | None = Field(default=None, description="Groups removed until a retry, and why.")


class InferenceDeploymentStatus(ApiModel):
    """Observed state, written by the operator."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    observed_generation: int | None = Field(default=None, description="The generation this status describes.")
    phase: Phase | None = Field(default=None, description="Pending, Deploying, Ready, Degraded, Failed or Suspended.")
    message: str | None = Field(default=None, description="The most useful thing to know right now.")
    endpoint: str | None = Field(default=None, description="OpenAI-compatible base URL inside the cluster.")
    replicas: int | None = Field(default=None, description="Serving pods that exist.")
    ready_replicas: int | None = Field(default=None, description="Serving pods that are Ready.")
    engine: EngineStatus | None = Field(default=None, description="Engine choice and cost figures.")
    groups: GroupsStatus | None = Field(
        default=None, description="Multi-node groups, when replicas span nodes (replicas then count groups)."
    )
    build: BuildStatus | None = Field(default=None, description="TensorRT-LLM engine build, when one is used.")
    autoscaler: AutoscalerStatus | None = Field(default=None, description="The autoscaler, under spec.autoscaling.")
    weights: WeightsStatus | None = Field(default=None, description="The weight cache entry, under spec.model.cache.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Progressing, Degraded, ...")
    kopf: dict[str, Any] | None = Field(
        default=None, description="Bookkeeping of the operator framework (kopf); not for people."
    )


class InferenceDeployment(ApiModel):
    """An LLM served by vLLM or TensorRT-LLM."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            (
                f"size(self.metadata.name) <= {NAME_MAX_LENGTH}",
                f"metadata.name must be at most {NAME_MAX_LENGTH} characters (children add a suffix)",
            ),
            (
                f"self.metadata.name.matches('{NAME_PATTERN}')",
                "metadata.name must start with a letter and hold only a-z, 0-9 and '-' (it names a Service)",
            ),
        )
    }

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: InferenceDeploymentSpec
    status: InferenceDeploymentStatus | None = None
