"""`inference-operator advise`: the acceptance command, the JSON shape, -f with overrides, bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.cli import main as cli_main
from inference_operator.cli.advise import add_advise_parser, run_advise

ACCEPTANCE = [
    "advise",
    "--tokens-per-month",
    "100000000",
    "--gpu-product",
    "NVIDIA-A100-SXM4-80GB",
    "--gpu-hourly-price",
    "1.48",
    "-o",
    "json",
]
ENGINE_KEYS = {"tokens_per_gpu_hour", "gpu_hours_per_month", "cost_per_month"}


def parser() -> argparse.ArgumentParser:
    """The subcommand on a parser of our own, so these tests do not depend on the rest of cli.py."""
    top = argparse.ArgumentParser(prog="inference-operator")
    add_advise_parser(top.add_subparsers(dest="command", required=True))
    return top


def advise(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_advise(parser().parse_args(argv))
    out, err = capsys.readouterr()
    return code, out, err


def advise_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = advise([*argv, "-o", "json"], capsys)
    assert (code, err) == (0, "")
    payload: dict[str, Any] = json.loads(out)
    return payload


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INFOP_AUTO_LOW_TOKENS_PER_MONTH", "INFOP_AUTO_HIGH_TOKENS_PER_MONTH"):
        monkeypatch.delenv(name, raising=False)


def test_acceptance_command_gives_the_article_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = advise(ACCEPTANCE, capsys)
    assert (code, err) == (0, "")
    payload = json.loads(out)
    # Issue 16 §3 added the preparation (path and one-off cost) to the shape.
    assert set(payload) == {"selected", "reason", "engines", "savings_per_month", "preparation"}
    assert payload["preparation"]["path"] == "EngineCompile"
    assert set(payload["engines"]) == {"vllm", "tensorrt-llm"}
    vllm, trtllm = payload["engines"]["vllm"], payload["engines"]["tensorrt-llm"]
    assert set(vllm) == set(trtllm) == ENGINE_KEYS
    assert vllm["tokens_per_gpu_hour"] == 667000 and trtllm["tokens_per_gpu_hour"] == 741000
    assert vllm["gpu_hours_per_month"] == pytest.approx(150, rel=1e-3)
    assert trtllm["gpu_hours_per_month"] == pytest.approx(135, rel=1e-3)
    assert vllm["cost_per_month"] == pytest.approx(222, rel=1e-3)
    assert trtllm["cost_per_month"] == pytest.approx(200, rel=2e-3)
    assert payload["savings_per_month"] == pytest.approx(22.16, abs=0.01)
    # Unrounded: the exact arithmetic, not a two-decimal rendering of it.
    assert vllm["gpu_hours_per_month"] == 100_000_000 / 667_000
    assert payload["savings_per_month"] == vllm["cost_per_month"] - trtllm["cost_per_month"]
    assert payload["selected"] == "vllm"


def test_the_real_entry_point_runs_advise(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(ACCEPTANCE) == 0
    assert json.loads(capsys.readouterr().out)["engines"]["vllm"]["tokens_per_gpu_hour"] == 667000


def test_above_the_break_even_selects_tensorrt_llm(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["advise", "--tokens-per-month", "2B", "--architecture", "LlamaForCausalLM"]
    payload = advise_json(argv, capsys)
    assert payload["selected"] == "tensorrt-llm"
    assert payload["reason"].startswith("2B tokens/month is above the 1B break-even")


@pytest.mark.parametrize(
    ("flags", "selected"),
    [
        (["--tokens-per-month", "500M"], "vllm"),
        (["--tokens-per-month", "500M", "--stable"], "tensorrt-llm"),
        (["--tokens-per-month", "500M", "--profile", "batch"], "tensorrt-llm"),
        (["--tokens-per-month", "500M", "--profile", "interactive", "--stable"], "vllm"),
    ],
)
def test_profile_and_stable_flags(flags: list[str], selected: str, capsys: pytest.CaptureFixture[str]) -> None:
    payload = advise_json(["advise", "--model", "Qwen/Qwen2.5-7B-Instruct", *flags], capsys)
    assert payload["selected"] == selected


def test_table_is_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = advise(
        [
            "advise",
            "--tokens-per-month",
            "2e9",
            "--model",
            "meta-llama/Llama-3.1-70B-Instruct",
            "--gpu-product",
            "NVIDIA-H100-80GB-HBM3",
            "--gpus-per-replica",
            "8",
        ],
        capsys,
    )
    assert (code, err) == (0, "")
    assert "Selected engine:  tensorrt-llm" in out
    assert "vllm" in out and "tensorrt-llm" in out and "585,000" in out and "675,000" in out
    assert "Compile:          8.00 GPU-hours" in out
    assert "H100 figures" in out


def write(tmp_path: Path, spec: dict[str, Any], **top: Any) -> str:
    body = {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": "m"},
        "spec": spec,
        **top,
    }
    path = tmp_path / "cr.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


def test_file_gives_the_inputs_and_flags_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        {
            "model": {"name": "mistralai/Mistral-7B-Instruct-v0.3"},
            "engine": {"preference": "auto"},
            "resources": {"gpuProduct": "NVIDIA-A100-SXM4-80GB"},
            "workload": {"tokensPerMonth": 500_000_000, "stable": True},
            "cost": {"gpuHourlyPrice": 2.0},
        },
    )
    from_file = advise_json(["advise", "-f", path], capsys)
    assert from_file["selected"] == "tensorrt-llm"
    assert from_file["engines"]["vllm"]["cost_per_month"] == pytest.approx(500_000_000 / 667_000 * 2.0)
    overridden = advise_json(["advise", "-f", path, "--no-stable", "--gpu-hourly-price", "1"], capsys)
    assert overridden["selected"] == "vllm"
    assert overridden["engines"]["vllm"]["cost_per_month"] == pytest.approx(500_000_000 / 667_000)


def test_cpu_mode_keeps_the_shape_with_null_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        {
            "model": {"name": "Qwen/Qwen2.5-0.5B-Instruct"},
            "resources": {"gpusPerReplica": 0},
            "workload": {"tokensPerMonth": 10_000_000},
        },
    )
    payload = advise_json(["advise", "-f", path], capsys)
    assert payload == {
        "selected": "vllm",
        "reason": payload["reason"],
        "engines": {"vllm": None, "tensorrt-llm": None},
        "savings_per_month": None,
        "preparation": None,
    }
    assert "CPU mode" in payload["reason"]


def test_thresholds_follow_the_operator_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFOP_AUTO_HIGH_TOKENS_PER_MONTH", "400000000")
    argv = ["advise", "--tokens-per-month", "500M", "--architecture", "LlamaForCausalLM"]
    payload = advise_json(argv, capsys)
    assert payload["selected"] == "tensorrt-llm"
    assert "above the 400M break-even" in payload["reason"]


def assert_one_line_error(code: int, out: str, err: str, *words: str) -> None:
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    for word in words:
        assert word in err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--tokens-per-month", "lots"], "--tokens-per-month"),
        (["--tokens-per-month", "-5"], "--tokens-per-month"),
        (["--tokens-per-month", "1.5"], "--tokens-per-month"),
        (["--tokens-per-month", "1M", "--gpu-hourly-price", "nan"], "--gpu-hourly-price"),
        (["--tokens-per-month", "1M", "--gpu-hourly-price", "-1"], "--gpu-hourly-price"),
        (["--tokens-per-month", "1M", "--tokens-per-gpu-hour-vllm", "0"], "--tokens-per-gpu-hour-vllm"),
        (["--tokens-per-month", "1M", "--tokens-per-gpu-hour-trtllm", "x"], "--tokens-per-gpu-hour-trtllm"),
        (["--tokens-per-month", "1M", "--architecture", "not an arch"], "--architecture"),
        (["--tokens-per-month", "1M", "--gpu-product", "bad product!"], "--gpu-product"),
        (["--tokens-per-month", "1M", "--parameters-billions", "0"], "--parameters-billions"),
        ([], "--tokens-per-month"),
    ],
)
def test_bad_values_give_one_line(flags: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = advise(["advise", *flags], capsys)
    assert_one_line_error(code, out, err, named)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["advise", "--profile", "fast"], "--profile"),
        (["advise", "-o", "yaml"], "--output"),
        (["advise", "--tokens-per-month"], "--tokens-per-month"),
        (["advise", "--bogus"], "--bogus"),
    ],
)
def test_bad_options_give_one_line_through_the_entry_point(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(argv)
    out, err = capsys.readouterr()
    assert_one_line_error(int(str(exited.value.code)), out, err, named.lstrip("-").split()[0])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"spec": {"modle": {"name": "x"}, "model": {"name": "x"}}}, ["spec.modle: unknown field"]),
        (
            {"spec": {"model": {"name": "x"}, "parallelism": {"tensor": 0}}},
            ["spec.parallelism.tensor: must be >= 1"],
        ),
        ({"kind": "Deployment", "spec": {"model": {"name": "x"}}}, ["InferenceDeployment"]),
    ],
)
def test_bad_files_give_one_line(
    body: dict[str, Any], words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, body.pop("spec"), **body)
    code, out, err = advise(["advise", "-f", path, "--tokens-per-month", "1M"], capsys)
    assert_one_line_error(code, out, err, path, *words)


def test_missing_and_hostile_files_give_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert_one_line_error(*advise(["advise", "-f", missing, "--tokens-per-month", "1M"], capsys), missing)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text('a: &a ["x", "x"]\nb: &b [*a, *a]\nc: [*b, *b]\n')
    assert_one_line_error(*advise(["advise", "-f", str(bomb)], capsys), "aliases")


def test_file_without_volume_asks_for_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"model": {"name": "meta-llama/Llama-3.1-8B"}})
    assert_one_line_error(*advise(["advise", "-f", path], capsys), "spec.workload.tokensPerMonth")


@pytest.mark.parametrize("quantization", ["int8", "int8-wo", "int4-awq"])
def test_a_quantization_without_a_sourced_figure_says_so(quantization: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 20: no invented speed-up. The figures are the unquantized ones, and `advise` says there is no figure."""
    argv = [a for a in ACCEPTANCE if a not in ("-o", "json")]
    plain = advise_json(argv, capsys)
    payload = advise_json([*argv, "--quantization", quantization], capsys)
    assert payload["engines"] == plain["engines"]  # the same tokens/GPU-hour: nothing scaled by a guess
    assert payload["quantization"]["speedup"] is None
    assert payload["quantization"]["note"].startswith(f"no figure for the {quantization} speed-up")
    assert "quantization" not in plain
    code, out, err = advise([*argv, "--quantization", quantization], capsys)
    assert (code, err) == (0, "")
    assert f"Note:             no figure for the {quantization} speed-up" in out


def test_measured_figures_for_both_engines_need_no_such_note(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a for a in ACCEPTANCE if a not in ("-o", "json")]
    measured = ["--tokens-per-gpu-hour-vllm", "900000", "--tokens-per-gpu-hour-trtllm", "1000000"]
    payload = advise_json([*argv, "--quantization", "int8", *measured], capsys)
    assert "quantization" not in payload
