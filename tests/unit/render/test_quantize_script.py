"""The quantization Job's script, run for real where it can be without a GPU (issue 16 §2, acceptance):

- the Python quantizer's --check, with the very arguments the Job renders, against the installed nvidia-modelopt
  0.47.0 (testbed/engine/modelopt.sh; `make engine`): every format and KV-cache dtype;
- the quantizer itself on the test bed's generated model, on CPU, calibrated on a local .jsonl (ModelOpt reads
  one in place of a Hub data set): a real FP8 checkpoint with its hf_quant_config.json, as vLLM's `modelopt`
  method reads it;
- the bash script (idempotence, the atomic publish, the completion marker) in a real shell on a real directory,
  with a stand-in `hf` (copies the generated model) and, for the failure case, a stand-in `python3`.

Not run here: calibration of a real model on a GPU, and serving the checkpoint (vLLM's CPU build has no FP8
ModelOpt kernels; TensorRT-LLM needs an NVIDIA GPU). docs/engine-builds.md says so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from inference_operator.api.engine_build import EngineBuild
from inference_operator.render.build_job import COMPLETE_MARKER, HF_DIR, build_script
from inference_operator.render.engine_key import engine_cache_key
from inference_operator.render.quantize_job import EXPORTED_QUANT_ALGO, QUANTIZE_PY, QUANTIZER_PATH, quantizer_args
from tests.support.engine import engine_paths, modelopt_python
from tests.support.quantization import B200, calibrated, created_quantization_build

FORMATS = [
    ("fp8", "auto"),
    ("fp8", "fp8"),
    ("nvfp4", "auto"),
    ("nvfp4", "fp8"),
    ("int4-awq", "auto"),
    ("int8-wo", "auto"),
    ("int8-wo", "fp8"),
]


def build_for(quantization: str, kv: str, engine: str = "vllm") -> EngineBuild:
    gpu = B200  # every format runs on Blackwell
    infd = calibrated("q", engine, quantization=quantization, gpu_product=gpu, calibration={"kvCacheDtype": kv})
    return created_quantization_build(infd)


def run_quantizer(script: Path, args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [str(modelopt_python()), str(script), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def quantizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quantizer") / "quantize_modelopt.py"
    path.write_text(QUANTIZE_PY)
    return path


@pytest.mark.parametrize(("quantization", "kv"), FORMATS)
def test_the_rendered_arguments_pass_the_installed_modelopts_check(quantizer: Path, quantization: str, kv: str) -> None:
    args = quantizer_args(build_for(quantization, kv), "/scratch/hf", "/store/x/.partial/checkpoint")
    proc = run_quantizer(quantizer, ["--check", *args])
    assert proc.returncode == 0, proc.stderr[-2000:]
    verdict = json.loads(proc.stdout.strip().splitlines()[-1])
    assert verdict == {"quantizer": "nvidia-modelopt", "version": "0.47.0", "qformat": quantization}


def test_the_check_fails_on_a_calibration_set_modelopt_does_not_know(quantizer: Path) -> None:
    args = quantizer_args(build_for("fp8", "auto"), "/scratch/hf", "/out")
    args[args.index("--dataset") + 1] = "no-such-set"
    proc = run_quantizer(quantizer, ["--check", *args])
    assert proc.returncode != 0 and "does not know calibration set no-such-set" in proc.stderr


def test_the_job_runs_the_same_arguments_it_was_checked_with() -> None:
    build = build_for("fp8", "fp8")
    script = build_script(build, "/engines")
    partial = f"/engines/{build.metadata['name']}/.partial/checkpoint"
    args = " ".join(quantizer_args(build, HF_DIR, partial))
    assert f"python3 {QUANTIZER_PATH} --check {args}\n" in script
    assert f"python3 {QUANTIZER_PATH} {args}\n" in script
    assert QUANTIZE_PY in script


def calibration_file(tmp: Path) -> Path:
    path = tmp / "calibration.jsonl"
    lines = [
        json.dumps({"text": f"Calibration sample {i}: the quick brown fox jumps over the lazy dog. " * 4})
        for i in range(24)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_quantizer_writes_a_real_fp8_checkpoint_of_the_generated_model_on_cpu(
    quantizer: Path, tmp_path: Path
) -> None:
    build = build_for("fp8", "fp8")
    out = tmp_path / "checkpoint"
    args = quantizer_args(build, engine_paths()["MODEL_DIR"], str(out))
    args[args.index("--dataset") + 1] = str(calibration_file(tmp_path))
    args[args.index("--samples") + 1] = "16"
    args[args.index("--max-sample-length") + 1] = "64"
    proc = run_quantizer(quantizer, args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    quant = json.loads((out / "hf_quant_config.json").read_text())
    assert quant["producer"] == {"name": "modelopt", "version": "0.47.0"}
    assert quant["quantization"]["quant_algo"] == EXPORTED_QUANT_ALGO["fp8"] == "FP8"
    assert quant["quantization"]["kv_cache_quant_algo"] == "FP8"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in out.iterdir()}


def test_the_quantizer_writes_a_real_int8_weight_only_checkpoint_on_cpu(quantizer: Path, tmp_path: Path) -> None:
    """int8-wo (issue 20): ModelOpt's INT8_WEIGHT_ONLY_CFG exports W8A16, the quant_algo TensorRT-LLM's PyTorch
    backend loads with its weight-only linear method."""
    build = build_for("int8-wo", "auto", engine="tensorrt-llm")
    out = tmp_path / "checkpoint"
    args = quantizer_args(build, engine_paths()["MODEL_DIR"], str(out))
    args[args.index("--dataset") + 1] = str(calibration_file(tmp_path))
    args[args.index("--samples") + 1] = "16"
    args[args.index("--max-sample-length") + 1] = "64"
    proc = run_quantizer(quantizer, args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    quant = json.loads((out / "hf_quant_config.json").read_text())
    assert quant["quantization"]["quant_algo"] == EXPORTED_QUANT_ALGO["int8-wo"] == "W8A16"
    assert quant["quantization"].get("kv_cache_quant_algo") is None


# --- the bash script in a real shell -------------------------------------------------------------------------

STAND_IN_HF = """#!/usr/bin/env bash
# Stand-in for the Hub CLI: copies the generated model where `hf download ... --local-dir DIR` would put it.
set -euo pipefail
echo "hf $*" >>"$CALLS"
while [ $# -gt 0 ]; do [ "$1" = --local-dir ] && dir=$2; shift; done
cp -r "$MODEL_DIR"/. "$dir"/
"""
STAND_IN_FAILING_PYTHON = """#!/usr/bin/env bash
# Stand-in for python3 whose quantization fails after writing half a checkpoint (the --check passes).
echo "python3 $*" >>"$CALLS"
case " $* " in *" --check "*) exit 0;; esac
while [ $# -gt 0 ]; do [ "$1" = --output-dir ] && out=$2; shift; done
mkdir -p "$out" && echo partial >"$out/attempt-$(grep -c '^python3 ' "$CALLS").safetensors"
echo 'CUDA out of memory' >&2; exit 1
"""


def shell_script(build: EngineBuild, tmp: Path) -> tuple[str, Path]:
    """The Job's script rewritten onto a real directory: the store and scratch under tmp."""
    store, scratch = tmp / "store", tmp / "scratch"
    store.mkdir(exist_ok=True)
    script = build_script(build, str(store)).replace("/scratch/", f"{scratch}/")
    return script, store / build.metadata["name"]


def run_shell(script: str, tmp: Path, python: Path | None) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "hf").write_text(STAND_IN_HF)
    (bin_dir / "hf").chmod(0o755)
    target = bin_dir / "python3"
    if target.exists() or target.is_symlink():
        target.unlink()
    if python is None:
        target.write_text(STAND_IN_FAILING_PYTHON)
        target.chmod(0o755)
    else:  # a venv's python must be run by its own path to find its site-packages
        target.write_text(f'#!/usr/bin/env bash\nexec {python} "$@"\n')
        target.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(tmp / "calls.log"),
        "MODEL_DIR": engine_paths()["MODEL_DIR"],
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(["bash", "-c", script], check=False, capture_output=True, text=True, timeout=900, env=env)


def test_the_script_publishes_atomically_marks_complete_last_and_is_idempotent(tmp_path: Path) -> None:
    build = build_for("fp8", "auto")
    script, out = shell_script(build, tmp_path)
    # Calibrate on the local file: the only change to the rendered script, so that it runs offline.
    script = script.replace("--dataset cnn_dailymail", f"--dataset {calibration_file(tmp_path)}")
    script = script.replace("--samples 512", "--samples 16").replace(
        "--max-sample-length 512", "--max-sample-length 64"
    )
    proc = run_shell(script, tmp_path, modelopt_python())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    key = engine_cache_key(build.spec)
    assert (out / COMPLETE_MARKER).read_text() == f"{key}\n"
    assert sorted(p.name for p in out.iterdir()) == [COMPLETE_MARKER, "checkpoint"]  # no .partial, no .tmp
    quant = json.loads((out / "checkpoint" / "hf_quant_config.json").read_text())
    assert quant["quantization"]["quant_algo"] == "FP8"
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert len([c for c in calls if c.startswith("hf download")]) == 1
    # Again: the marker says it is done; nothing is downloaded or quantized.
    again = run_shell(script, tmp_path, modelopt_python())
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert (tmp_path / "calls.log").read_text().splitlines() == calls


def test_a_failed_quantization_publishes_nothing_and_a_retry_starts_clean(tmp_path: Path) -> None:
    build = build_for("nvfp4", "auto")
    script, out = shell_script(build, tmp_path)
    proc = run_shell(script, tmp_path, None)
    assert proc.returncode == 1 and "CUDA out of memory" in proc.stderr
    assert not (out / COMPLETE_MARKER).exists() and not (out / "checkpoint").exists()
    partial = out / ".partial" / "checkpoint"
    assert [p.name for p in partial.iterdir()] == ["attempt-2.safetensors"]  # never served: no marker
    again = run_shell(script, tmp_path, None)
    assert again.returncode == 1
    # The retry removed the first attempt's half-written checkpoint before starting over.
    assert [p.name for p in partial.iterdir()] == ["attempt-4.safetensors"]
    assert len([c for c in (tmp_path / "calls.log").read_text().splitlines() if c.startswith("hf download")]) == 2
