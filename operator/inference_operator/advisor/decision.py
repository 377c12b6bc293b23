"""`engine.preference: auto`: choose vLLM or TensorRT-LLM by the article's rules, explain it and price it.

The rules, first match wins (the article's "Cost Analysis" break-even and "Selecting the Optimal Approach"):
1. CPU mode, a GPU that is not NVIDIA's, or one older than Ampere -> vLLM (TensorRT-LLM needs NVIDIA SM80+).
2. Architecture unknown or not in TensorRT-LLM's supported table for the chosen backend -> vLLM ("teams
   serving bleeding-edge architectures must use vLLM"). Unknown means neither spec.model.architecture nor the
   model name tells it: vLLM is the safe side, and the reason asks for spec.model.architecture.
3. spec.workload.tokensPerMonth unset -> vLLM, the reason asks for it (no volume, no case for a compile).
4. Volume against the two thresholds of the operator's settings (article defaults 100M and 1B a month):
   below low -> vLLM; above high -> TensorRT-LLM; from low to high inclusive (the article's "100M-1B" band)
   -> vLLM unless the deployment is declared stable, then TensorRT-LLM.
5. TensorRT-LLM is never chosen when, at the throughputs in force, it saves nothing (only possible when
   spec.cost overrides make it slower than vLLM).

How the workload profile enters (article, "Latency Versus Throughput Tradeoffs": "for interactive chatbot
applications prioritizing low latency, vLLM's defaults prove superior. For batch processing applications
maximizing total throughput, TensorRT-LLM's configuration flexibility may yield better results"):
- interactive: the middle band stays on vLLM even when stable; the marginal saving does not buy latency.
- batch: the middle band goes to TensorRT-LLM without `stable`; throughput is what the workload wants.
- balanced: rule 4 as written. The thresholds themselves and rules 1-3 are the same for every profile.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import NamedTuple

from ..api.inference_deployment import (
    Engine,
    EngineCost,
    EngineStatus,
    InferenceDeployment,
    PreparationPath,
    Quantization,
    TrtllmBackend,
    WorkloadProfile,
)
from ..api.settings import DEFAULT_HIGH_TOKENS_PER_MONTH, DEFAULT_LOW_TOKENS_PER_MONTH, DecisionSettings
from . import cost
from .architectures import architecture_from_name, parameters_billions_from_name, trtllm_supports

# Part of the hash: bump it when the rules or default tables change, so an upgraded operator re-decides once.
RULES_VERSION = 1


class ReasonCode(enum.StrEnum):
    """Which rule decided, as one CamelCase word: for Event reasons and metric labels (few values)."""

    CPU_MODE = "CpuMode"
    NOT_NVIDIA_GPU = "NotNvidiaGpu"
    PRE_AMPERE_GPU = "PreAmpereGpu"
    UNKNOWN_ARCHITECTURE = "UnknownArchitecture"
    UNSUPPORTED_ARCHITECTURE = "UnsupportedArchitecture"
    VOLUME_UNSET = "VolumeUnset"
    BELOW_BREAK_EVEN = "BelowBreakEven"
    ABOVE_BREAK_EVEN = "AboveBreakEven"
    INTERACTIVE_PROFILE = "InteractiveProfile"
    BATCH_PROFILE = "BatchProfile"
    STABLE_DEPLOYMENT = "StableDeployment"
    NOT_DECLARED_STABLE = "NotDeclaredStable"
    NO_SAVINGS = "NoSavings"


class _Outcome(NamedTuple):
    selected: Engine
    code: ReasonCode
    reason: str


@dataclass(frozen=True)
class DecisionInputs:
    """Exactly what the decision depends on; None in an override means "the default for the GPU product"."""

    tokens_per_month: int | None = None
    profile: WorkloadProfile = WorkloadProfile.BALANCED
    stable: bool = False
    model_name: str | None = None
    architecture: str | None = None
    parameters_billions: float | None = None
    gpu_product: str | None = None
    gpus_per_replica: int = 1
    trtllm_backend: TrtllmBackend = TrtllmBackend.ENGINE
    quantization_build: bool = False  # spec.precision.calibration: the preparation is a quantization build
    quantization: Quantization = Quantization.NONE  # spec.precision.quantization: only for the note below
    gpu_hourly_price: float | None = None
    vllm_tokens_per_gpu_hour: int | None = None
    tensorrt_llm_tokens_per_gpu_hour: int | None = None
    low_tokens_per_month: int = DEFAULT_LOW_TOKENS_PER_MONTH
    high_tokens_per_month: int = DEFAULT_HIGH_TOKENS_PER_MONTH

    def digest(self) -> str:
        """A stable short hash of the inputs: same inputs, same hash, across processes and Python versions."""
        fields = asdict(self) | {"rules_version": RULES_VERSION}
        if not self.quantization_build:
            del fields["quantization_build"]  # decisions made before the field existed keep their hash
        if self.quantization is Quantization.NONE:
            del fields["quantization"]  # likewise
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Economics:
    """Both engines' monthly figures and the compile's cost, at the figures in force."""

    vllm: EngineCost
    tensorrt_llm: EngineCost
    savings_per_month: float
    compile_gpu_hours: float  # of the preparation (`preparation`): an engine compile, a quantization, or none
    compile_cost: float
    compile_payback_days: float | None
    preparation: PreparationPath = PreparationPath.ENGINE_COMPILE


@dataclass(frozen=True)
class Decision:
    """The chosen engine, the one-line reason, and the figures behind it."""

    selected: Engine
    reason: str
    reason_code: ReasonCode
    decision_hash: str
    architecture: str | None
    economics: Economics | None
    notes: tuple[str, ...] = ()

    @property
    def quantization_note(self) -> str | None:
        """The note saying a quantization's speed-up has no figure, if the decision carries one."""
        return next((n for n in self.notes if n.startswith(NO_FIGURE)), None)

    @property
    def vllm(self) -> EngineCost | None:
        return self.economics.vllm if self.economics else None

    @property
    def tensorrt_llm(self) -> EngineCost | None:
        return self.economics.tensorrt_llm if self.economics else None

    @property
    def savings_per_month(self) -> float | None:
        return self.economics.savings_per_month if self.economics else None

    @property
    def compile_payback_days(self) -> float | None:
        return self.economics.compile_payback_days if self.economics else None

    def to_engine_status(self, active: Engine | None = None) -> EngineStatus:
        """status.engine of the resource; `active` is the engine serving right now, as the caller observed."""
        return EngineStatus(
            selected=self.selected,
            active=active,
            reason=self.reason,
            decision_hash=self.decision_hash,
            vllm=self.vllm,
            tensorrtLLM=self.tensorrt_llm,
            savings_per_month=self.savings_per_month,
            compile_payback_days=self.compile_payback_days,
        )


def decision_inputs_from(infd: InferenceDeployment, settings: DecisionSettings) -> DecisionInputs:
    """The decision's inputs as a resource and the operator's settings give them."""
    spec = infd.spec
    return DecisionInputs(
        tokens_per_month=spec.workload.tokens_per_month,
        profile=spec.workload.profile,
        stable=spec.workload.stable,
        model_name=spec.model.name,
        architecture=spec.model.architecture,
        parameters_billions=spec.model.parameters_billions,
        gpu_product=spec.resources.gpu_product,
        gpus_per_replica=spec.gpus_per_replica,
        trtllm_backend=spec.engine.tensorrt_llm.effective_backend,
        quantization_build=spec.precision.calibration is not None,
        quantization=spec.precision.quantization,
        gpu_hourly_price=spec.cost.gpu_hourly_price,
        vllm_tokens_per_gpu_hour=spec.cost.vllm_tokens_per_gpu_hour,
        tensorrt_llm_tokens_per_gpu_hour=spec.cost.tensorrt_llm_tokens_per_gpu_hour,
        low_tokens_per_month=settings.low_tokens_per_month,
        high_tokens_per_month=settings.high_tokens_per_month,
    )


def decide(inputs: DecisionInputs) -> Decision:
    """Apply the rules of the module docstring to the inputs. Pure: the same inputs give the same Decision."""
    architecture = inputs.architecture
    if architecture is None and inputs.model_name:
        architecture = architecture_from_name(inputs.model_name)
    economics, notes = _economics(inputs)
    outcome = _hardware_rule(inputs) or _architecture_rule(inputs, architecture) or _volume_rule(inputs, economics)
    return Decision(
        selected=outcome.selected,
        reason=outcome.reason,
        reason_code=outcome.code,
        decision_hash=inputs.digest(),
        architecture=architecture,
        economics=economics,
        notes=notes,
    )


def _economics(inputs: DecisionInputs) -> tuple[Economics | None, tuple[str, ...]]:
    """Figures for both engines, or None when there is no volume or no GPU to price."""
    if inputs.tokens_per_month is None or inputs.gpus_per_replica == 0:
        return None, ()
    figures, fallback_note = cost.gpu_figures(inputs.gpu_product)
    overrides = (
        inputs.gpu_hourly_price,
        inputs.vllm_tokens_per_gpu_hour,
        inputs.tensorrt_llm_tokens_per_gpu_hour,
    )
    # Say where the defaults came from whenever one is used; a full override needs no note.
    notes: tuple[str, ...] = () if None not in overrides else (fallback_note or figures.source,)
    if inputs.quantization is not Quantization.NONE and None in overrides[1:]:
        notes += (no_quantization_figure(inputs.quantization),)
    price = figures.hourly_price if inputs.gpu_hourly_price is None else inputs.gpu_hourly_price
    vllm = cost.engine_cost(
        inputs.tokens_per_month, inputs.vllm_tokens_per_gpu_hour or figures.vllm_tokens_per_gpu_hour, price
    )
    trtllm = cost.engine_cost(
        inputs.tokens_per_month,
        inputs.tensorrt_llm_tokens_per_gpu_hour or figures.tensorrt_llm_tokens_per_gpu_hour,
        price,
    )
    parameters = inputs.parameters_billions
    if parameters is None and inputs.model_name:
        parameters = parameters_billions_from_name(inputs.model_name)
    compile_gpu_hours = cost.compile_gpu_hours(
        parameters, inputs.gpus_per_replica, inputs.trtllm_backend, inputs.quantization_build
    )
    savings = vllm.cost_per_month - trtllm.cost_per_month
    compile_cost = compile_gpu_hours * price
    economics = Economics(
        vllm=vllm,
        tensorrt_llm=trtllm,
        savings_per_month=savings,
        compile_gpu_hours=compile_gpu_hours,
        compile_cost=compile_cost,
        compile_payback_days=cost.payback_days(compile_cost, savings),
        preparation=cost.preparation_path(inputs.trtllm_backend, inputs.quantization_build),
    )
    return economics, notes


# The article gives no per-format throughput (its FAQ says only that both engines support INT8 and INT4, and that
# TensorRT-LLM's INT8 path is better integrated), and this advisor has no other sourced figure: it says so instead
# of scaling the unquantized figures by a guess.
NO_FIGURE = "no figure for the"


def no_quantization_figure(quantization: Quantization) -> str:
    """The note `advise` prints when a quantization's throughput change has no sourced figure."""
    return (
        f"{NO_FIGURE} {quantization.value} speed-up: tokens/GPU-hour above are the unquantized figures; "
        "give measured ones with spec.cost.vllmTokensPerGpuHour and spec.cost.tensorrtLLMTokensPerGpuHour"
    )


def _hardware_rule(inputs: DecisionInputs) -> _Outcome | None:
    product = inputs.gpu_product
    if inputs.gpus_per_replica == 0:
        return _vllm(ReasonCode.CPU_MODE, "CPU mode (0 GPUs per replica): TensorRT-LLM needs NVIDIA GPUs")
    if not cost.is_nvidia_gpu(product):
        reason = f"GPU product {product} is not an NVIDIA GPU, which TensorRT-LLM needs"
        return _vllm(ReasonCode.NOT_NVIDIA_GPU, reason)
    if cost.is_pre_ampere(product):
        reason = f"GPU product {product} predates Ampere, the oldest GPUs TensorRT-LLM supports"
        return _vllm(ReasonCode.PRE_AMPERE_GPU, reason)
    return None


def _architecture_rule(inputs: DecisionInputs, architecture: str | None) -> _Outcome | None:
    if architecture is None:
        return _vllm(
            ReasonCode.UNKNOWN_ARCHITECTURE,
            "the model's architecture could not be determined from its name "
            "(set spec.model.architecture, e.g. LlamaForCausalLM, to let TensorRT-LLM be considered)",
        )
    backend = inputs.trtllm_backend
    if trtllm_supports(architecture, backend):
        return None
    other = TrtllmBackend.PYTORCH if backend is TrtllmBackend.ENGINE else TrtllmBackend.ENGINE
    hint = (
        f"; its {other.value} backend does (spec.engine.tensorrtLLM.backend: {other.value})"
        if trtllm_supports(architecture, other)
        else "; new architectures must use vLLM"
    )
    return _vllm(
        ReasonCode.UNSUPPORTED_ARCHITECTURE,
        f"TensorRT-LLM's {backend.value} backend does not support {architecture}{hint}",
    )


def _volume_rule(inputs: DecisionInputs, economics: Economics | None) -> _Outcome:
    tokens = inputs.tokens_per_month
    if tokens is None or economics is None:
        return _vllm(
            ReasonCode.VOLUME_UNSET,
            "spec.workload.tokensPerMonth is not set: no expected volume to pay for a compile",
        )
    volume = f"{format_count(tokens)} tokens/month"
    saving = format_money(economics.savings_per_month)
    if tokens < inputs.low_tokens_per_month:
        low = format_count(inputs.low_tokens_per_month)
        return _vllm(
            ReasonCode.BELOW_BREAK_EVEN,
            f"{volume} is below the {low} break-even: vLLM's simplicity outweighs a {saving}/month saving",
        )
    if tokens > inputs.high_tokens_per_month:
        high = format_count(inputs.high_tokens_per_month)
        reason = f"{volume} is above the {high} break-even: {_saves(economics)}"
        return _trtllm(economics, ReasonCode.ABOVE_BREAK_EVEN, reason)
    return _middle_band(inputs, economics, volume)


def _middle_band(inputs: DecisionInputs, economics: Economics, volume: str) -> _Outcome:
    """From the low to the high threshold: the workload profile, then `stable`, decide."""
    low, high = format_count(inputs.low_tokens_per_month), format_count(inputs.high_tokens_per_month)
    band = f"{volume} is between the {low} and {high} break-evens"
    would_save = f"TensorRT-LLM would save {format_money(economics.savings_per_month)}/month"
    if inputs.profile is WorkloadProfile.INTERACTIVE:
        reason = f"{band} and the profile is interactive: vLLM's defaults suit low latency ({would_save})"
        return _vllm(ReasonCode.INTERACTIVE_PROFILE, reason)
    if inputs.profile is WorkloadProfile.BATCH:
        reason = f"{band} and the profile is batch (throughput first): {_saves(economics)}"
        return _trtllm(economics, ReasonCode.BATCH_PROFILE, reason)
    if inputs.stable:
        reason = f"{band} on a deployment declared stable: {_saves(economics)}"
        return _trtllm(economics, ReasonCode.STABLE_DEPLOYMENT, reason)
    reason = f"{band} and spec.workload.stable is not set ({would_save})"
    return _vllm(ReasonCode.NOT_DECLARED_STABLE, reason)


def _vllm(code: ReasonCode, reason: str) -> _Outcome:
    return _Outcome(Engine.VLLM, code, reason)


def _trtllm(economics: Economics, code: ReasonCode, reason: str) -> _Outcome:
    """TensorRT-LLM with the reason, unless it saves nothing at the throughputs in force (rule 5)."""
    if economics.savings_per_month <= 0:
        trtllm, vllm = economics.tensorrt_llm.tokens_per_gpu_hour, economics.vllm.tokens_per_gpu_hour
        return _vllm(
            ReasonCode.NO_SAVINGS,
            f"TensorRT-LLM saves nothing at the throughputs in force ({format_count(trtllm)} against "
            f"{format_count(vllm)} tokens/GPU-hour)",
        )
    return _Outcome(Engine.TENSORRT_LLM, code, reason)


def _saves(economics: Economics) -> str:
    return f"TensorRT-LLM saves {format_money(economics.savings_per_month)}/month{_payback(economics)}"


def _payback(economics: Economics) -> str:
    days = economics.compile_payback_days
    if economics.preparation is PreparationPath.NONE:
        return "; no compile and no quantization to pay back (PyTorch backend, bf16)"
    what = "the compile" if economics.preparation is PreparationPath.ENGINE_COMPILE else "the quantization build"
    one_off = f"{format_money(economics.compile_cost)} one-off"
    if days is None:
        return f"; {what} costs {one_off}"
    return f"; {what} pays back in {format_days(days)} days ({one_off})"


def format_count(value: float) -> str:
    """100000000 -> 100M, 2500000000 -> 2.5B: three significant digits at most."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}"


def format_money(dollars: float) -> str:
    """$2,220 for large amounts, $22.16 for small ones."""
    return f"${dollars:,.0f}" if abs(dollars) >= 100 else f"${dollars:,.2f}"


def format_days(days: float) -> str:
    if days < 0.1:
        return "under 0.1"
    return f"{days:.1f}" if days < 10 else f"{days:.0f}"
