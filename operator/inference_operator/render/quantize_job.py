"""The script of a quantization build (EngineBuild spec.kind Quantization): NVIDIA Model Optimizer quantizes the
Hugging Face checkpoint once, calibrated on a data set, into a Hugging Face checkpoint both engines serve. Pure.

The Python quantizer below is written into the Job's scratch directory by the bash script and run twice: first
with --check (before the download: the image's nvidia-modelopt must have the format's config, the calibration
set and the export API, or the Job fails at once, not after a 140 GB download), then for real. Its calls are
those of nvidia-modelopt 0.47.0 (PyPI), checked against the installed package by tests/unit/render:
modelopt.torch.quantization.quantize(model, config, forward_loop) with FP8_DEFAULT_CFG, NVFP4_DEFAULT_CFG,
INT4_AWQ_CFG, INT8_WEIGHT_ONLY_CFG and FP8_KV_CFG; modelopt.torch.utils.dataset_utils.create_forward_loop(model,
dataset_name, tokenizer, batch_size, num_samples, max_sample_length, device) and SUPPORTED_DATASET_CONFIG (a name
there, or a local .jsonl path); modelopt.torch.export.export_hf_checkpoint(model, dtype, export_dir), which writes
config.json, the safetensors and hf_quant_config.json ({"quantization": {"quant_algo": "FP8"|"NVFP4"|"W4A16_AWQ"|
"W8A16", ...}}).
Calibration runs the model forward: it needs the GPU the Job holds (CPU works for a toy model, as the test shows).

Store layout per build (<mount>/<build name>/): checkpoint/ (the quantized checkpoint with its tokenizer) and
COMPLETE holding the key, written last by an atomic rename, as for an engine (build_job.py).
"""

from __future__ import annotations

import shlex
from typing import Any

from ..api.engine_build import EngineBuild

CHECKPOINT_SUBDIR = "checkpoint"
QUANTIZER_PATH = "/scratch/quantize_modelopt.py"
# Part of every quantization key: bump it when the script's output changes for the same inputs.
QUANTIZE_RECIPE_VERSION = 1
# The package that quantizes; its version is the image's (the key holds spec.image).
QUANTIZER = "nvidia-modelopt"

# spec.precision.quantization -> the ModelOpt config (modelopt.torch.quantization, nvidia-modelopt 0.47.0).
MODELOPT_CONFIGS: dict[str, str] = {
    "fp8": "FP8_DEFAULT_CFG",
    "nvfp4": "NVFP4_DEFAULT_CFG",
    "int4-awq": "INT4_AWQ_CFG",
    "int8-wo": "INT8_WEIGHT_ONLY_CFG",
}
MODELOPT_KV_CONFIGS: dict[str, str] = {"fp8": "FP8_KV_CFG"}
# The quant_algo export_hf_checkpoint writes for each, which the engines read from hf_quant_config.json.
# modelopt/torch/export/quant_utils.py (0.47.0): int8_wo -> W8A16 (int8_sq would be W8A8_SQ_PER_CHANNEL, which
# neither engine's checkpoint loader here serves, so it is no quantization build's format).
EXPORTED_QUANT_ALGO: dict[str, str] = {"fp8": "FP8", "nvfp4": "NVFP4", "int4-awq": "W4A16_AWQ", "int8-wo": "W8A16"}

QUANTIZE_PY = '''\
"""Quantize a Hugging Face checkpoint with NVIDIA Model Optimizer (written by inference-operator)."""
import argparse
import copy
import inspect
import json
import sys

CONFIGS = @CONFIGS@
KV_CONFIGS = @KV_CONFIGS@


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--qformat", required=True, choices=sorted(CONFIGS))
    p.add_argument("--kv-cache-dtype", default="auto", choices=["auto", *sorted(KV_CONFIGS)])
    p.add_argument("--dtype", default="auto", choices=["auto", "float16", "bfloat16"])
    p.add_argument("--dataset", required=True)
    p.add_argument("--samples", type=int, required=True)
    p.add_argument("--max-sample-length", type=int, required=True)
    p.add_argument("--check", action="store_true", help="check the installed modelopt has what this run needs")
    return p.parse_args(argv)


def quant_config(mtq, args):
    cfg = copy.deepcopy(getattr(mtq, CONFIGS[args.qformat]))
    if args.kv_cache_dtype != "auto":
        extra = copy.deepcopy(getattr(mtq, KV_CONFIGS[args.kv_cache_dtype])["quant_cfg"])
        if isinstance(cfg["quant_cfg"], dict):  # nvidia-modelopt before 0.40: a dict of patterns
            cfg["quant_cfg"].update(extra)
        else:  # a list of {quantizer_name, cfg|enable} entries, applied in order
            cfg["quant_cfg"] = [*cfg["quant_cfg"], *extra]
    return cfg


def require_params(fn, *names):
    params = inspect.signature(fn).parameters
    missing = [n for n in names if n not in params]
    if missing:
        sys.exit(f"modelopt: {fn.__module__}.{fn.__name__} has no parameter {', '.join(missing)}")


def check(args):
    import modelopt
    import modelopt.torch.quantization as mtq
    from modelopt.torch.export import export_hf_checkpoint
    from modelopt.torch.utils import dataset_utils

    names = [CONFIGS[args.qformat]] + ([KV_CONFIGS[args.kv_cache_dtype]] if args.kv_cache_dtype != "auto" else [])
    for name in names:
        if not hasattr(mtq, name):
            sys.exit(f"modelopt {modelopt.__version__} has no modelopt.torch.quantization.{name}")
    local = args.dataset.endswith(".jsonl")
    if not local and args.dataset not in dataset_utils.SUPPORTED_DATASET_CONFIG:
        sys.exit(f"modelopt {modelopt.__version__} does not know calibration set {args.dataset}")
    require_params(mtq.quantize, "model", "config", "forward_loop")
    require_params(
        dataset_utils.create_forward_loop,
        "model", "dataset_name", "tokenizer", "batch_size", "num_samples", "max_sample_length", "device",
    )
    require_params(export_hf_checkpoint, "model", "dtype", "export_dir")
    quant_config(mtq, args)
    print(json.dumps({"quantizer": "nvidia-modelopt", "version": modelopt.__version__, "qformat": args.qformat}))


def run(args):
    import torch
    import modelopt.torch.quantization as mtq
    from modelopt.torch.export import export_hf_checkpoint
    from modelopt.torch.utils.dataset_utils import create_forward_loop
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = {"auto": "auto", "float16": torch.float16, "bfloat16": torch.bfloat16}[args.dtype]
    device_map = "auto" if torch.cuda.is_available() else None
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, torch_dtype=dtype, device_map=device_map)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    loop = create_forward_loop(
        model=model,
        dataset_name=args.dataset,
        tokenizer=tokenizer,
        batch_size=1,
        num_samples=args.samples,
        max_sample_length=args.max_sample_length,
        device=str(next(model.parameters()).device),
    )
    model = mtq.quantize(model, quant_config(mtq, args), forward_loop=loop)
    export_hf_checkpoint(model, dtype=next(model.parameters()).dtype, export_dir=args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    with open(f"{args.output_dir}/hf_quant_config.json") as f:
        print(json.dumps(json.load(f)["quantization"]))


if __name__ == "__main__":
    ARGS = parse(sys.argv[1:])
    check(ARGS)
    if not ARGS.check:
        run(ARGS)
'''.replace("@CONFIGS@", repr(MODELOPT_CONFIGS)).replace("@KV_CONFIGS@", repr(MODELOPT_KV_CONFIGS))


def checkpoint_dir(mount_path: str, build_name: str) -> str:
    """The quantized checkpoint of a build in the store (engine_key.engine_dir's layout)."""
    return f"{mount_path.rstrip('/')}/{build_name}/{CHECKPOINT_SUBDIR}"


def store_mount(claim_name: str, mount_path: str, volume: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The store, read-only twice over (claim and mount): a server can never damage a shared build."""
    return (
        [{"name": volume, "persistentVolumeClaim": {"claimName": claim_name, "readOnly": True}}],
        [{"name": volume, "mountPath": mount_path, "readOnly": True}],
    )


def quantizer_args(build: EngineBuild, model_dir: str, output_dir: str) -> list[str]:
    """The quantizer's arguments for this build (the test runs the same list against the installed package)."""
    spec = build.spec
    if spec.calibration is None:
        raise ValueError(f"EngineBuild {build.metadata.get('name')} has no spec.calibration")
    cal = spec.calibration
    return [
        "--model-dir",
        model_dir,
        "--output-dir",
        output_dir,
        "--qformat",
        spec.quantization.value,
        "--kv-cache-dtype",
        cal.kv_cache_dtype.value,
        "--dtype",
        spec.dtype.value if spec.dtype.value != "float32" else "auto",
        "--dataset",
        cal.dataset.value,
        "--samples",
        str(cal.samples),
        "--max-sample-length",
        str(cal.max_sample_length),
    ]


def quantize_script(build: EngineBuild, out: str, key: str, hf_dir: str, download: list[str], marker: str) -> str:
    """The bash script of a quantization Job: idempotent, publishing by rename, the marker last (as build_job.py)."""
    spec = build.spec
    q = shlex.quote
    partial = f"{out}/.partial/{CHECKPOINT_SUBDIR}"
    scratch_hf = "" if spec.weight_cache else f" {q(hf_dir)}"
    fetch = "reading the weight cache entry of" if spec.weight_cache else "downloading"
    lines = [
        "set -euo pipefail",
        f"out={q(out)}",
        f'if [ -f "$out/{marker}" ]; then',
        f'  echo "quantized checkpoint {key} is already complete in $out: nothing to do"',
        "  exit 0",
        "fi",
        # A weight cache entry (spec.weightCache) is mounted read-only: neither cleaned nor created.
        f'rm -rf "$out/.partial"{scratch_hf}',
        f'mkdir -p "$out/.partial"{scratch_hf} "$(dirname {QUANTIZER_PATH})"',
        f"cat > {QUANTIZER_PATH} <<'QUANTIZE_PY'",
        QUANTIZE_PY.rstrip("\n"),
        "QUANTIZE_PY",
        "echo '[1/4] checking the quantizer (nvidia-modelopt in the image)'",
        shlex.join(["python3", QUANTIZER_PATH, "--check", *quantizer_args(build, hf_dir, partial)]),
        f"echo {q(f'[2/4] {fetch} {spec.model} at revision {spec.revision}')}",
        *download,
        f"echo {q(f'[3/4] quantizing to {spec.quantization.value} (calibrating on the GPU)')}",
        shlex.join(["python3", QUANTIZER_PATH, *quantizer_args(build, hf_dir, partial)]),
        "echo '[4/4] publishing'",
        f'rm -rf "$out/{CHECKPOINT_SUBDIR}"',
        f'mv "$out/.partial/{CHECKPOINT_SUBDIR}" "$out/"',
        'rmdir "$out/.partial"',
        f"printf '%s\\n' {key} > \"$out/{marker}.tmp\"",
        f'mv "$out/{marker}.tmp" "$out/{marker}"',
        f"echo 'quantized checkpoint {key} complete'",
    ]
    return "\n".join(lines) + "\n"
