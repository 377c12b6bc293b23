"""The cost model and the `auto` rules: the article's own table first, then every rule, profiles, the hash."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from inference_operator.advisor import cost
from inference_operator.advisor.architectures import (
    TRTLLM_ENGINE_ARCHITECTURES,
    TRTLLM_PYTORCH_ARCHITECTURES,
    architecture_from_name,
    parameters_billions_from_name,
    trtllm_supports,
)
from inference_operator.advisor.compile_time import compile_minutes
from inference_operator.advisor.decision import (
    Decision,
    DecisionInputs,
    ReasonCode,
    decide,
    decision_inputs_from,
    format_count,
    format_money,
)
from inference_operator.api.inference_deployment import (
    Engine,
    InferenceDeployment,
    PreparationPath,
    Quantization,
    TrtllmBackend,
    WorkloadProfile,
)
from inference_operator.api.settings import DecisionSettings
from tests.support.samples import TEST_NAMESPACE, TEST_UID

M, B = 10**6, 10**9
A100 = "NVIDIA-A100-SXM4-80GB"
VLLM, TRT = Engine.VLLM, Engine.TENSORRT_LLM


def inputs(**overrides: Any) -> DecisionInputs:
    """A supported model on A100 at the article's price; each test changes what it is about."""
    base = DecisionInputs(
        tokens_per_month=2 * B,
        model_name="meta-llama/Llama-3.1-8B-Instruct",
        gpu_product=A100,
        gpu_hourly_price=1.48,
    )
    return dataclasses.replace(base, **overrides)


def resource(**spec: Any) -> InferenceDeployment:
    return InferenceDeployment.model_validate(
        {
            "apiVersion": "inference-operator.dev/v1alpha1",
            "kind": "InferenceDeployment",
            "metadata": {"name": "m", "namespace": TEST_NAMESPACE, "uid": TEST_UID},
            "spec": {
                "model": {"name": "meta-llama/Llama-3.1-8B-Instruct"},
                "engine": {"preference": "auto"},
                **spec,
            },
        }
    )


# --- the article's cost table: Lambda A100 at $1.48/h, 667K vs 741K tokens per GPU-hour -----------

ARTICLE_TABLE = [
    # tokens/month, vLLM GPU-hours, vLLM $/month, TRT-LLM GPU-hours, TRT-LLM $/month, savings $/month
    (100 * M, 150, 222, 135, 200, 22),
    (1 * B, 1500, 2220, 1350, 1998, 222),
    (10 * B, 15000, 22200, 13500, 19980, 2220),
]


@pytest.mark.parametrize("row", ARTICLE_TABLE, ids=["100M", "1B", "10B"])
def test_article_cost_table(row: tuple[int, float, float, float, float, float]) -> None:
    tokens, v_hours, v_cost, t_hours, t_cost, savings = row
    economics = decide(inputs(tokens_per_month=tokens)).economics
    assert economics is not None
    # The article rounds to two or three significant digits; our figures are the unrounded arithmetic.
    assert economics.vllm.tokens_per_gpu_hour == 667_000
    assert economics.tensorrt_llm.tokens_per_gpu_hour == 741_000
    assert economics.vllm.gpu_hours_per_month == pytest.approx(v_hours, rel=1e-3)
    assert economics.vllm.cost_per_month == pytest.approx(v_cost, rel=1e-3)
    assert economics.tensorrt_llm.gpu_hours_per_month == pytest.approx(t_hours, rel=1e-3)
    assert economics.tensorrt_llm.cost_per_month == pytest.approx(t_cost, rel=2e-3)
    assert economics.savings_per_month == pytest.approx(savings, rel=1e-2)
    assert economics.vllm.gpu_hours_per_month == tokens / 667_000
    vllm_cost, trtllm_cost = economics.vllm.cost_per_month, economics.tensorrt_llm.cost_per_month
    assert economics.savings_per_month == vllm_cost - trtllm_cost


def test_a100_defaults_are_the_article_table_without_overrides() -> None:
    economics = decide(inputs(tokens_per_month=100 * M, gpu_hourly_price=None)).economics
    assert economics is not None
    assert economics.vllm.cost_per_month == pytest.approx(100 * M / 667_000 * 1.48)


def test_h100_defaults_derive_from_the_article_8xh100_figures() -> None:
    assert cost.H100.hourly_price == pytest.approx(49.24 / 8) == 6.155
    assert cost.H100.vllm_tokens_per_gpu_hour == 1300 * 3600 // 8 == 585_000
    assert cost.H100.tensorrt_llm_tokens_per_gpu_hour == 1500 * 3600 // 8 == 675_000


@pytest.mark.parametrize(
    ("label", "family"),
    [
        ("NVIDIA-A100-SXM4-80GB", "A100"),
        ("NVIDIA-A100-SXM4-40GB", "A100"),
        ("NVIDIA-A100-PCIE-40GB", "A100"),
        ("NVIDIA-A100-80GB-PCIe", "A100"),
        ("NVIDIA-H100-80GB-HBM3", "H100"),
        ("NVIDIA-H100-PCIe", "H100"),
        ("NVIDIA-H100-NVL", "H100"),
    ],
)
def test_gpu_product_labels_map_to_families(label: str, family: str) -> None:
    figures, note = cost.gpu_figures(label)
    assert (figures.family, note) == (family, None)


@pytest.mark.parametrize("label", ["NVIDIA-L40S", "NVIDIA-A10G", "NVIDIA-H200", "NVIDIA-GH200-480GB", None])
def test_products_without_article_figures_fall_back_to_a100_and_say_so(label: str | None) -> None:
    figures, note = cost.gpu_figures(label)
    assert figures is cost.A100
    assert note is not None and "A100" in note
    decision = decide(inputs(gpu_product=label, gpu_hourly_price=None))
    assert decision.notes == (note,)


def test_full_cost_override_needs_no_note_and_wins() -> None:
    decision = decide(
        inputs(
            gpu_hourly_price=2.0,
            vllm_tokens_per_gpu_hour=1_000_000,
            tensorrt_llm_tokens_per_gpu_hour=2_000_000,
            gpu_product="NVIDIA-L40S",
        )
    )
    assert decision.notes == ()
    assert decision.economics is not None
    assert decision.economics.vllm.cost_per_month == pytest.approx(2 * B / 1_000_000 * 2.0)
    assert decision.economics.tensorrt_llm.gpu_hours_per_month == pytest.approx(1000)


@pytest.mark.parametrize(
    ("billions", "minutes"),
    [(0.5, 10), (7, 10), (8, 10), (13, 10), (70, 60), (80, 60), (180, 120), (405, 243)],
)
def test_compile_minutes_are_the_article_upper_bounds(billions: float, minutes: float) -> None:
    assert compile_minutes(billions) == pytest.approx(minutes)


def test_compile_gpu_hours_scale_with_the_build_gpus_and_vanish_without_a_compile() -> None:
    assert compile_minutes(None) == 60
    assert cost.compile_gpu_hours(70, 8, TrtllmBackend.ENGINE) == pytest.approx(8.0)
    assert cost.compile_gpu_hours(7, 0, TrtllmBackend.ENGINE) == pytest.approx(10 / 60)
    assert cost.compile_gpu_hours(70, 8, TrtllmBackend.PYTORCH) == 0.0


def test_payback_is_compile_cost_over_daily_savings() -> None:
    assert cost.payback_days(30.0, 300.0) == pytest.approx(3.0)
    assert cost.payback_days(0.0, 300.0) == 0.0
    assert cost.payback_days(30.0, 0.0) is None
    assert cost.payback_days(30.0, -5.0) is None


def test_decision_prices_the_compile_of_the_resource_size_and_gpus() -> None:
    decision = decide(inputs(model_name="meta-llama/Llama-3.1-70B-Instruct", gpus_per_replica=8))
    economics = decision.economics
    assert economics is not None
    assert economics.compile_gpu_hours == pytest.approx(8.0)
    assert economics.compile_cost == pytest.approx(8 * 1.48)
    expected = 8 * 1.48 / (economics.savings_per_month / 30)
    assert economics.compile_payback_days == pytest.approx(expected)
    assert decision.compile_payback_days == economics.compile_payback_days


# --- the break-even thresholds, exactly at the boundaries -----------------------------------------


@pytest.mark.parametrize(
    ("tokens", "stable", "selected"),
    [
        (100 * M - 1, True, VLLM),  # below low: vLLM even when stable
        (100 * M, False, VLLM),  # the low threshold opens the middle band
        (100 * M, True, TRT),
        (1 * B, False, VLLM),  # the high threshold still belongs to the middle band ("100M-1B")
        (1 * B, True, TRT),
        (1 * B + 1, False, TRT),  # above high: TensorRT-LLM without `stable`
        (0, True, VLLM),
    ],
)
def test_break_even_boundaries(tokens: int, stable: bool, selected: Engine) -> None:
    assert decide(inputs(tokens_per_month=tokens, stable=stable)).selected is selected


def test_thresholds_come_from_the_settings() -> None:
    settings = DecisionSettings(low_tokens_per_month=10 * M, high_tokens_per_month=50 * M)
    infd = resource(workload={"tokensPerMonth": 60 * M}, resources={"gpuProduct": A100})
    decision = decide(decision_inputs_from(infd, settings))
    assert decision.selected is TRT
    assert "above the 50M break-even" in decision.reason


# --- every rule, in order -------------------------------------------------------------------------


def test_cpu_mode_is_vllm_with_no_gpu_figures() -> None:
    decision = decide(inputs(gpus_per_replica=0))
    assert (decision.selected, decision.economics) == (VLLM, None)
    assert "CPU mode" in decision.reason


@pytest.mark.parametrize(
    ("product", "words"), [("AMD-Instinct-MI300X", "not an NVIDIA GPU"), ("Tesla-V100-SXM2-16GB", "Ampere")]
)
def test_gpus_tensorrt_llm_cannot_use_are_vllm(product: str, words: str) -> None:
    decision = decide(inputs(gpu_product=product))
    assert decision.selected is VLLM
    assert words in decision.reason and product in decision.reason


def test_unknown_architecture_is_vllm_and_asks_for_it() -> None:
    decision = decide(inputs(model_name="acme/secret-model"))
    assert (decision.selected, decision.architecture) == (VLLM, None)
    assert "spec.model.architecture" in decision.reason


def test_declared_architecture_beats_the_name() -> None:
    decision = decide(inputs(model_name="acme/secret-model", architecture="LlamaForCausalLM"))
    assert (decision.selected, decision.architecture) == (TRT, "LlamaForCausalLM")


def test_unsupported_architecture_is_vllm() -> None:
    decision = decide(inputs(architecture="Olmo2ForCausalLM"))
    assert decision.selected is VLLM
    assert "does not support Olmo2ForCausalLM" in decision.reason
    assert decision.economics is not None  # the figures still show what TensorRT-LLM would have saved


def test_architecture_support_depends_on_the_backend_and_the_reason_says_which() -> None:
    on_engine = decide(inputs(model_name="Qwen/Qwen3-30B-A3B"))
    assert on_engine.selected is VLLM
    assert "spec.engine.tensorrtLLM.backend: pytorch" in on_engine.reason
    on_pytorch = decide(inputs(model_name="Qwen/Qwen3-30B-A3B", trtllm_backend=TrtllmBackend.PYTORCH))
    assert on_pytorch.selected is TRT
    assert "no compile" in on_pytorch.reason


def test_unset_volume_is_vllm_and_asks_for_it() -> None:
    decision = decide(inputs(tokens_per_month=None))
    assert (decision.selected, decision.economics) == (VLLM, None)
    assert "spec.workload.tokensPerMonth" in decision.reason


def test_tensorrt_llm_that_saves_nothing_is_never_chosen() -> None:
    decision = decide(inputs(vllm_tokens_per_gpu_hour=800_000, tensorrt_llm_tokens_per_gpu_hour=700_000))
    assert decision.selected is VLLM
    assert "saves nothing" in decision.reason


def test_reason_names_the_numbers() -> None:
    decision = decide(inputs(tokens_per_month=2 * B))
    assert decision.reason.startswith("2B tokens/month is above the 1B break-even: TensorRT-LLM saves $443/month")
    assert "the compile pays back in" in decision.reason
    below = decide(inputs(tokens_per_month=50 * M)).reason
    assert below == ("50M tokens/month is below the 100M break-even: vLLM's simplicity outweighs a $11.08/month saving")
    assert "\n" not in below


RULE_CASES: dict[ReasonCode, dict[str, Any]] = {
    ReasonCode.CPU_MODE: {"gpus_per_replica": 0},
    ReasonCode.NOT_NVIDIA_GPU: {"gpu_product": "AMD-Instinct-MI300X"},
    ReasonCode.PRE_AMPERE_GPU: {"gpu_product": "Tesla-T4"},
    ReasonCode.UNKNOWN_ARCHITECTURE: {"model_name": "acme/secret-model"},
    ReasonCode.UNSUPPORTED_ARCHITECTURE: {"architecture": "Olmo2ForCausalLM"},
    ReasonCode.VOLUME_UNSET: {"tokens_per_month": None},
    ReasonCode.BELOW_BREAK_EVEN: {"tokens_per_month": 1},
    ReasonCode.ABOVE_BREAK_EVEN: {},
    ReasonCode.INTERACTIVE_PROFILE: {"tokens_per_month": B, "profile": WorkloadProfile.INTERACTIVE},
    ReasonCode.BATCH_PROFILE: {"tokens_per_month": B, "profile": WorkloadProfile.BATCH},
    ReasonCode.STABLE_DEPLOYMENT: {"tokens_per_month": B, "stable": True},
    ReasonCode.NOT_DECLARED_STABLE: {"tokens_per_month": B},
    ReasonCode.NO_SAVINGS: {"tensorrt_llm_tokens_per_gpu_hour": 1},
}


def test_every_reason_code_has_a_case() -> None:
    assert set(RULE_CASES) == set(ReasonCode)


@pytest.mark.parametrize("code", list(ReasonCode))
def test_each_rule_reports_its_reason_code(code: ReasonCode) -> None:
    decision = decide(inputs(**RULE_CASES[code]))
    assert decision.reason_code is code
    assert code.value.isalnum() and code.value[0].isupper()


# --- the workload profile -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "tokens", "stable", "selected"),
    [
        (WorkloadProfile.INTERACTIVE, 500 * M, True, VLLM),  # latency first: the middle band stays on vLLM
        (WorkloadProfile.INTERACTIVE, 2 * B, False, TRT),  # above high the cost case still holds
        (WorkloadProfile.INTERACTIVE, 50 * M, True, VLLM),
        (WorkloadProfile.BATCH, 500 * M, False, TRT),  # throughput first: the middle band to TensorRT-LLM
        (WorkloadProfile.BATCH, 100 * M, False, TRT),
        (WorkloadProfile.BATCH, 100 * M - 1, True, VLLM),  # below low simplicity still wins
        (WorkloadProfile.BALANCED, 500 * M, False, VLLM),
        (WorkloadProfile.BALANCED, 500 * M, True, TRT),
    ],
)
def test_profile_effects(profile: WorkloadProfile, tokens: int, stable: bool, selected: Engine) -> None:
    decision = decide(inputs(profile=profile, tokens_per_month=tokens, stable=stable))
    assert decision.selected is selected
    if profile is not WorkloadProfile.BALANCED and 100 * M <= tokens <= B:
        assert profile.value in decision.reason


# --- stickiness: the hash is exactly the inputs ---------------------------------------------------


def test_hash_is_stable_for_equal_inputs() -> None:
    first, second = decide(inputs()), decide(inputs())
    assert first == second
    assert len(first.decision_hash) == 16 and int(first.decision_hash, 16) >= 0
    settings = DecisionSettings()
    infd = resource(workload={"tokensPerMonth": 2 * B})
    assert (
        decide(decision_inputs_from(infd, settings)).decision_hash
        == decide(decision_inputs_from(resource(workload={"tokensPerMonth": 2 * B}), settings)).decision_hash
    )


CHANGED_INPUTS: dict[str, Any] = {
    "tokens_per_month": 3 * B,
    "profile": WorkloadProfile.BATCH,
    "stable": True,
    "model_name": "meta-llama/Llama-3.1-70B-Instruct",
    "architecture": "MistralForCausalLM",
    "parameters_billions": 8.0,
    "gpu_product": "NVIDIA-H100-80GB-HBM3",
    "gpus_per_replica": 2,
    "trtllm_backend": TrtllmBackend.PYTORCH,
    "quantization_build": True,
    "quantization": Quantization.INT8,
    "gpu_hourly_price": 1.49,
    "vllm_tokens_per_gpu_hour": 667_001,
    "tensorrt_llm_tokens_per_gpu_hour": 741_001,
    "low_tokens_per_month": 100 * M + 1,
    "high_tokens_per_month": B + 1,
}


def test_every_input_is_covered_by_the_change_table() -> None:
    assert set(CHANGED_INPUTS) == {field.name for field in dataclasses.fields(DecisionInputs)}


@pytest.mark.parametrize(("name", "value"), sorted(CHANGED_INPUTS.items()))
def test_hash_changes_when_any_input_changes(name: str, value: Any) -> None:
    assert decide(inputs(**{name: value})).decision_hash != decide(inputs()).decision_hash


def test_hash_ignores_what_is_not_an_input() -> None:
    settings = DecisionSettings()
    plain = decide(decision_inputs_from(resource(workload={"tokensPerMonth": B}), settings))
    other = decide(decision_inputs_from(resource(workload={"tokensPerMonth": B}, replicas=3), settings))
    assert plain.decision_hash == other.decision_hash


# --- from a resource, and into status.engine ------------------------------------------------------


def test_inputs_from_a_resource() -> None:
    infd = resource(
        model={"name": "Qwen/Qwen2.5-72B-Instruct", "parametersBillions": 72.7},
        parallelism={"tensor": 4},
        resources={"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
        workload={"tokensPerMonth": 5 * B, "profile": "batch", "stable": True},
        cost={"gpuHourlyPrice": 4.0, "vllmTokensPerGpuHour": 500_000, "tensorrtLLMTokensPerGpuHour": 600_000},
    )
    got = decision_inputs_from(infd, DecisionSettings(low_tokens_per_month=1, high_tokens_per_month=2))
    assert got == DecisionInputs(
        tokens_per_month=5 * B,
        profile=WorkloadProfile.BATCH,
        stable=True,
        model_name="Qwen/Qwen2.5-72B-Instruct",
        architecture=None,
        parameters_billions=72.7,
        gpu_product="NVIDIA-H100-80GB-HBM3",
        gpus_per_replica=4,
        trtllm_backend=TrtllmBackend.ENGINE,
        gpu_hourly_price=4.0,
        vllm_tokens_per_gpu_hour=500_000,
        tensorrt_llm_tokens_per_gpu_hour=600_000,
        low_tokens_per_month=1,
        high_tokens_per_month=2,
    )
    assert decide(got).architecture == "Qwen2ForCausalLM"


def test_engine_status_carries_the_decision() -> None:
    decision: Decision = decide(inputs())
    status = decision.to_engine_status(active=VLLM)
    assert (status.selected, status.active, status.reason) == (TRT, VLLM, decision.reason)
    assert status.decision_hash == decision.decision_hash
    assert status.vllm == decision.vllm and status.tensorrt_llm == decision.tensorrt_llm
    wire = status.to_wire()
    assert set(wire) == {
        "selected",
        "active",
        "reason",
        "decisionHash",
        "vllm",
        "tensorrtLLM",
        "savingsPerMonth",
        "compilePaybackDays",
    }
    assert wire["tensorrtLLM"] == {
        "tokensPerGpuHour": 741_000,
        "gpuHoursPerMonth": 2 * B / 741_000,
        "costPerMonth": 2 * B / 741_000 * 1.48,
    }
    bare = decide(inputs(tokens_per_month=None)).to_engine_status().to_wire()
    assert set(bare) == {"selected", "reason", "decisionHash"}


# --- architectures and sizes from names -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "architecture"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "LlamaForCausalLM"),
        ("meta-llama/Meta-Llama-3-70B", "LlamaForCausalLM"),
        ("meta-llama/Llama-2-7b-chat-hf", "LlamaForCausalLM"),
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "MllamaForConditionalGeneration"),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "Llama4ForConditionalGeneration"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "MistralForCausalLM"),
        ("mistralai/Mistral-Nemo-Instruct-2407", "MistralForCausalLM"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "MixtralForCausalLM"),
        ("mistralai/Mistral-Small-3.1-24B-Instruct-2503", "Mistral3ForConditionalGeneration"),
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen2ForCausalLM"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen2ForCausalLM"),
        ("Qwen/QwQ-32B", "Qwen2ForCausalLM"),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen2_5_VLForConditionalGeneration"),
        ("Qwen/Qwen2-VL-7B-Instruct", "Qwen2VLForConditionalGeneration"),
        ("Qwen/Qwen3-8B", "Qwen3ForCausalLM"),
        ("Qwen/Qwen3-30B-A3B", "Qwen3MoeForCausalLM"),
        ("Qwen/Qwen3-VL-8B-Instruct", None),
        ("Qwen/Qwen3-Next-80B-A3B-Instruct", None),
        ("google/gemma-2-9b-it", "Gemma2ForCausalLM"),
        ("google/gemma-7b", "GemmaForCausalLM"),
        ("google/gemma-3-1b-it", "Gemma3ForCausalLM"),
        ("google/gemma-3-27b-it", "Gemma3ForConditionalGeneration"),
        ("microsoft/Phi-3-mini-4k-instruct", "Phi3ForCausalLM"),
        ("microsoft/phi-4", "Phi3ForCausalLM"),
        ("microsoft/phi-2", "PhiForCausalLM"),
        ("tiiuae/falcon-40b-instruct", "FalconForCausalLM"),
        ("openai-community/gpt2", "GPT2LMHeadModel"),
        ("gpt2", "GPT2LMHeadModel"),
        ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "LlamaForCausalLM"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "Qwen2ForCausalLM"),
        ("acme/secret-model", None),
        ("llama", None),
    ],
)
def test_architecture_from_name(name: str, architecture: str | None) -> None:
    assert architecture_from_name(name) == architecture


def test_every_inferred_supported_name_is_in_a_table() -> None:
    # The requested examples are in the engine backend's table.
    for name in (
        "LlamaForCausalLM",
        "MistralForCausalLM",
        "MixtralForCausalLM",
        "Qwen2ForCausalLM",
        "GemmaForCausalLM",
        "Phi3ForCausalLM",
        "FalconForCausalLM",
        "GPT2LMHeadModel",
    ):
        assert trtllm_supports(name, TrtllmBackend.ENGINE), name
    assert not trtllm_supports("llamaforcausallm", TrtllmBackend.ENGINE)
    assert "DeepseekV3ForCausalLM" in TRTLLM_PYTORCH_ARCHITECTURES - TRTLLM_ENGINE_ARCHITECTURES


@pytest.mark.parametrize(
    ("name", "billions"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", 8),
        ("meta-llama/Llama-3.1-405B", 405),
        ("Qwen/Qwen2.5-0.5B-Instruct", 0.5),
        ("Qwen/Qwen3-30B-A3B", 30),
        ("mistralai/Mixtral-8x7B-v0.1", 56),
        ("HuggingFaceTB/SmolLM2-135M", 0.135),
        ("google/gemma-2-9b-it", 9),
        ("microsoft/Phi-3-mini-4k-instruct", None),
        ("acme/model-v2.5", None),
    ],
)
def test_parameters_from_name(name: str, billions: float | None) -> None:
    assert parameters_billions_from_name(name) == (pytest.approx(billions) if billions is not None else None)


@pytest.mark.parametrize(
    ("value", "text"),
    [(100 * M, "100M"), (B, "1B"), (2_500_000_000, "2.5B"), (3_333_333, "3.33M"), (500, "500")],
)
def test_format_count(value: int, text: str) -> None:
    assert format_count(value) == text


def test_format_money() -> None:
    assert (format_money(22.158), format_money(2215.9), format_money(-3.5)) == ("$22.16", "$2,216", "$-3.50")


# Issue 16 §3: the one-off cost is the chosen path's preparation.


def test_the_preparation_is_named_with_its_one_off_cost() -> None:
    engine = decide(inputs(tokens_per_month=2 * B))
    assert engine.economics is not None and engine.economics.preparation is PreparationPath.ENGINE_COMPILE
    assert "; the compile pays back in under 0.1 days ($0.25 one-off)" in engine.reason
    quantized = decide(inputs(tokens_per_month=2 * B, trtllm_backend=TrtllmBackend.PYTORCH, quantization_build=True))
    assert quantized.economics is not None and quantized.economics.preparation is PreparationPath.QUANTIZATION
    assert quantized.economics.compile_gpu_hours == engine.economics.compile_gpu_hours  # the compile's upper bound
    assert "; the quantization build pays back in under 0.1 days ($0.25 one-off)" in quantized.reason
    bf16 = decide(inputs(tokens_per_month=2 * B, trtllm_backend=TrtllmBackend.PYTORCH))
    assert bf16.economics is not None and bf16.economics.preparation is PreparationPath.NONE
    assert bf16.economics.compile_gpu_hours == 0 and bf16.economics.compile_payback_days == 0
    assert "no compile and no quantization to pay back (PyTorch backend, bf16)" in bf16.reason


def test_a_calibrated_resource_is_priced_as_a_quantization_build() -> None:
    infd = resource(workload={"tokensPerMonth": 2 * B})
    plain = decision_inputs_from(infd, DecisionSettings())
    assert plain.quantization_build is False
    body = infd.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["spec"]["precision"] = {"quantization": "fp8", "calibration": {}}
    calibrated = decision_inputs_from(InferenceDeployment.model_validate(body), DecisionSettings())
    assert calibrated.quantization_build is True
    assert decide(calibrated).decision_hash != decide(plain).decision_hash
