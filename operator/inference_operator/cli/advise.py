"""`inference-operator advise`: price vLLM against TensorRT-LLM for a workload; show what `auto` picks.

The decision is the operator's own (advisor.decide), so the CLI and `engine.preference: auto` never disagree.
Exit codes: 0 done, 2 a bad option, setting or -f file; every error is one line on stderr ("error: ...").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import pydantic

from .. import API_VERSION
from ..advisor.decision import (
    Decision,
    DecisionInputs,
    decide,
    decision_inputs_from,
    format_days,
    format_money,
)
from ..api.inference_deployment import (
    KIND,
    InferenceDeployment,
    PreparationPath,
    Quantization,
    TrtllmBackend,
    WorkloadProfile,
)
from ..api.settings import DecisionSettings, SettingsError, from_env
from ..cli.manifest_io import ManifestError, format_validation_error, load_resource

EXIT_ERROR = 2

_UNITS = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
_COUNT = re.compile(r"^(?P<number>[0-9][0-9_,]*(\.[0-9]+)?(e[+]?[0-9]+)?)(?P<unit>[KMBT]?)$", re.IGNORECASE)
# What a resource accepts, plus "_" in architectures (real names have it: Qwen2_5_VLForConditionalGeneration).
_ARCHITECTURE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_GPU_PRODUCT = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


# Flags that take a value, parsed and checked by run_advise so each error names its flag in one line.
_VALUE_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--model", "NAME", "Hugging Face repository id, to infer architecture and size"),
    ("--architecture", "ARCH", "Hugging Face architecture, e.g. LlamaForCausalLM"),
    ("--parameters-billions", "N", "model size, billions of parameters (for the compile)"),
    ("--tokens-per-month", "N", "expected tokens a month, e.g. 100000000 or 100M"),
    ("--gpu-product", "LABEL", "nvidia.com/gpu.product label, e.g. NVIDIA-A100-SXM4-80GB"),
    ("--gpus-per-replica", "N", "GPUs per replica (0 = CPU mode); sizes the compile"),
    ("--gpu-hourly-price", "DOLLARS", "dollars per GPU-hour"),
    ("--tokens-per-gpu-hour-vllm", "N", "measured vLLM tokens per GPU-hour"),
    ("--tokens-per-gpu-hour-trtllm", "N", "measured TensorRT-LLM tokens per GPU-hour"),
)

_Parser = TypeVar("_Parser", bound=argparse.ArgumentParser)


class UsageError(ValueError):
    """A flag's value the advisor cannot use; the message names the flag."""


def add_advise_parser(subparsers: argparse._SubParsersAction[_Parser]) -> None:
    """Register `advise`; the parsed namespace carries func=run_advise, as every subcommand of cli.main."""
    parser = subparsers.add_parser(
        "advise",
        help="price vLLM against TensorRT-LLM and show which engine `auto` picks",
        description="Price vLLM against TensorRT-LLM for a workload, with the operator's own `auto` rules. "
        "With -f, start from an InferenceDeployment's spec; flags override it. Counts take K/M/B/T suffixes.",
    )
    parser.add_argument("-f", "--filename", metavar="FILE", help="InferenceDeployment manifest to start from")
    for flag, metavar, text in _VALUE_FLAGS:
        parser.add_argument(flag, metavar=metavar, help=text)
    parser.add_argument("--profile", choices=[profile.value for profile in WorkloadProfile])
    parser.add_argument(
        "--stable",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="declare a stable, long-lived deployment (tips 100M-1B tokens a month to TensorRT-LLM)",
    )
    parser.add_argument(
        "--backend",
        choices=[b.value for b in TrtllmBackend],
        help="TensorRT-LLM backend: engine (a compile, 1.2.x) or pytorch (no compile)",
    )
    parser.add_argument(
        "--quantization-build",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="price a ModelOpt quantization build (spec.precision.calibration) as the one-off preparation",
    )
    parser.add_argument(
        "--quantization",
        choices=[q.value for q in Quantization],
        help="spec.precision.quantization; the advisor has no sourced speed-up figure for any format and says so",
    )
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table")
    parser.set_defaults(func=run_advise)


def run_advise(args: argparse.Namespace) -> int:
    """Run `advise` for parsed arguments; prints the result or a one-line error, returns the exit code."""
    try:
        settings = from_env().decision
        inputs = _inputs(args, settings)
    except (ManifestError, UsageError, SettingsError) as exc:
        return _fail(str(exc))
    if inputs.tokens_per_month is None:
        return _fail("no volume to price: pass --tokens-per-month or set spec.workload.tokensPerMonth")
    decision = decide(inputs)
    output = json.dumps(advice_json(decision), indent=2) if args.output == "json" else advice_table(decision)
    print(output)
    return 0


def advice_json(decision: Decision) -> dict[str, Any]:
    """The JSON for scripts: exactly the issue's shape, numbers unrounded (null figures in CPU mode)."""

    def figures(engine_cost: Any) -> dict[str, Any] | None:
        return engine_cost.model_dump(mode="json", by_alias=False) if engine_cost is not None else None

    result: dict[str, Any] = {
        "selected": decision.selected.value,
        "reason": decision.reason,
        "engines": {"vllm": figures(decision.vllm), "tensorrt-llm": figures(decision.tensorrt_llm)},
        "savings_per_month": decision.savings_per_month,
        "preparation": None
        if decision.economics is None
        else {
            "path": decision.economics.preparation.value,
            "gpu_hours": decision.economics.compile_gpu_hours,
            "cost": decision.economics.compile_cost,
            "payback_days": decision.economics.compile_payback_days,
        },
    }
    if decision.quantization_note is not None:
        # Only for a quantized resource, so the unquantized shape stays exactly the issue's.
        result["quantization"] = {"speedup": None, "note": decision.quantization_note}
    return result


def advice_table(decision: Decision) -> str:
    """The text for people: the choice, the reason, both engines' figures, the saving and the compile."""
    lines = [f"Selected engine:  {decision.selected.value}", f"Reason:           {decision.reason}"]
    economics = decision.economics
    if economics is not None:
        lines += ["", f"{'ENGINE':<14}{'TOKENS/GPU-HOUR':>17}{'GPU-HOURS/MONTH':>18}{'COST/MONTH':>14}"]
        for name, row in (("vllm", economics.vllm), ("tensorrt-llm", economics.tensorrt_llm)):
            lines.append(
                f"{name:<14}{row.tokens_per_gpu_hour:>17,}{row.gpu_hours_per_month:>18,.1f}"
                f"{'$' + format(row.cost_per_month, ',.2f'):>14}"
            )
        payback = economics.compile_payback_days
        pays = f"pays back in {format_days(payback)} days" if payback is not None else "never pays back"
        lines += [
            "",
            f"Savings/month:    {format_money(economics.savings_per_month)} with TensorRT-LLM",
            _preparation_line(economics.preparation, economics.compile_gpu_hours, economics.compile_cost, pays),
        ]
    lines += [f"Note:             {note}" for note in decision.notes]
    return "\n".join(lines)


def _preparation_line(path: PreparationPath, gpu_hours: float, dollars: float, pays: str) -> str:
    """The one-off preparation of TensorRT-LLM's path, named (issue 16 §3)."""
    if path is PreparationPath.NONE:
        return "Preparation:      none (PyTorch backend, bf16 checkpoint as it is)"
    label = "Compile:" if path is PreparationPath.ENGINE_COMPILE else "Quantization:"
    return f"{label:<18}{gpu_hours:.2f} GPU-hours ({format_money(dollars)}); {pays}"


def _inputs(args: argparse.Namespace, settings: DecisionSettings) -> DecisionInputs:
    """The resource's inputs (or the defaults), with every flag given laid over them."""
    if args.filename:
        base = decision_inputs_from(_load_deployment(args.filename), settings)
    else:
        base = DecisionInputs(
            low_tokens_per_month=settings.low_tokens_per_month,
            high_tokens_per_month=settings.high_tokens_per_month,
        )
    overrides: dict[str, Any] = {
        "model_name": args.model,
        "architecture": _matching(args.architecture, _ARCHITECTURE, "--architecture", "LlamaForCausalLM"),
        "parameters_billions": _number(args.parameters_billions, "--parameters-billions", positive=True),
        "tokens_per_month": _count(args.tokens_per_month, "--tokens-per-month", minimum=0),
        "gpu_product": _matching(args.gpu_product, _GPU_PRODUCT, "--gpu-product", "NVIDIA-A100-SXM4-80GB"),
        "gpus_per_replica": _count(args.gpus_per_replica, "--gpus-per-replica", minimum=0),
        "gpu_hourly_price": _number(args.gpu_hourly_price, "--gpu-hourly-price", positive=False),
        "vllm_tokens_per_gpu_hour": _count(args.tokens_per_gpu_hour_vllm, "--tokens-per-gpu-hour-vllm", minimum=1),
        "tensorrt_llm_tokens_per_gpu_hour": _count(
            args.tokens_per_gpu_hour_trtllm, "--tokens-per-gpu-hour-trtllm", minimum=1
        ),
        "profile": WorkloadProfile(args.profile) if args.profile else None,
        "stable": args.stable,
        "trtllm_backend": TrtllmBackend(args.backend) if args.backend else None,
        "quantization_build": args.quantization_build,
        "quantization": Quantization(args.quantization) if args.quantization else None,
    }
    given = {name: value for name, value in overrides.items() if value is not None}
    return dataclasses.replace(base, **given)


def _load_deployment(path: str) -> InferenceDeployment:
    document = load_resource(path)
    if document.get("kind") != KIND or document.get("apiVersion") != API_VERSION:
        found = f"{document.get('apiVersion')}/{document.get('kind')}"
        raise ManifestError(path, f"is a {found}, not an {API_VERSION} {KIND}")
    try:
        return InferenceDeployment.model_validate(document)
    except pydantic.ValidationError as exc:
        raise ManifestError(path, format_validation_error(exc)) from None


def _count(text: str | None, flag: str, minimum: int) -> int | None:
    """A whole number such as 100000000, 1e8, 100M or 2.5B."""
    if text is None:
        return None
    match = _COUNT.match(text.strip())
    try:
        if match is None:
            raise InvalidOperation
        value = Decimal(match["number"].replace("_", "").replace(",", "")) * _UNITS[match["unit"].upper()]
    except InvalidOperation:
        raise UsageError(f"{flag}: expected a whole number such as 100000000 or 100M, got {text!r}") from None
    if value != value.to_integral_value() or value < minimum:
        raise UsageError(f"{flag}: must be a whole number >= {minimum}, got {text!r}")
    return int(value)


def _number(text: str | None, flag: str, positive: bool) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise UsageError(f"{flag}: must be a finite number {'> 0' if positive else '>= 0'}, got {text!r}")
    return value


def _matching(text: str | None, pattern: re.Pattern[str], flag: str, example: str) -> str | None:
    if text is None:
        return None
    if not pattern.match(text) or len(text) > 128:
        raise UsageError(f"{flag}: {text!r} is not a valid value (e.g. {example})")
    return text


def _fail(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_ERROR
