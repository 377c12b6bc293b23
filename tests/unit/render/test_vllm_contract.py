"""The vLLM argument contract: every `vllm serve` command line the operator renders parses with the installed
vLLM's own parser (testbed/engine/check_args.py in the test bed's vLLM venv), plus the value checks vLLM
makes only at engine start-up (a quantization method it lacks, a dtype the method refuses).

Rendered with the operator's CLI (`inference-operator render -o json`), from every sample and from specs the
CRD-schema fuzzer generates. The fuzzed specs' `engine.vllm.extraArgs` are dropped: the operator passes them
through verbatim by design (they are the user's words, random text here), and the contract is about what the
operator writes. Needs `make engine` (a dependency of `make test`); without it the tests fail, never skip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.render.vllm import render_vllm_deployment
from tests.support.engine import ArgvVerdict, check_vllm_args
from tests.support.fuzz_specs import body, generated_specs
from tests.support.quantization import A100, B200, STORE, calibrated, calibrated_body
from tests.support.samples import SAMPLES_DIR
from tests.support.trtllm_fixtures import container as only_container

CLI = Path(sys.executable).with_name("inference-operator")
VLLM_COMMAND = ["vllm", "serve"]
FUZZED_SPECS = 40  # each is one CLI run (~0.6 s)


def render(path: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(CLI), "render", "-f", str(path), "-o", "json"]
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that carries a pod template."""
    found = []
    for obj in objects:
        spec = obj.get("spec") or {}
        templates = [spec.get("template"), (spec.get("jobTemplate") or {}).get("spec", {}).get("template")]
        for template in templates:
            if isinstance(template, dict) and isinstance(template.get("spec"), dict):
                found.append((f"{obj['kind']}/{obj['metadata']['name']}", template["spec"]))
    return found


def vllm_argvs(label: str, objects: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The args of every container that runs `vllm serve`; a vLLM image run any other way fails here."""
    argvs = []
    for where, pod in pod_specs(objects):
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            name = f"{label}:{where}:{container['name']}"
            if container.get("command") == VLLM_COMMAND:
                argvs.append((name, list(container.get("args", []))))
            else:
                image = container.get("image", "")
                assert "vllm" not in image, f"{name} runs {container.get('command')}, not vllm serve"
    return argvs


def rendered_argvs(path: Path, label: str) -> list[tuple[str, list[str]]] | None:
    """The vLLM argvs of a rendered resource, or None when the CLI refuses it (it never reaches a cluster)."""
    out = render(path)
    if out.returncode == 2:
        assert out.stderr.startswith("error: "), out.stderr
        return None
    assert out.returncode == 0, f"{label}: render failed: {out.stderr}"
    return vllm_argvs(label, json.loads(out.stdout)["items"])


def test_every_sample_renders_a_command_line_vllm_parses() -> None:
    items = []
    for path in sorted(SAMPLES_DIR.glob("*.yaml")):
        argvs = rendered_argvs(path, path.stem)
        assert argvs is not None, f"sample {path.name} does not render"
        items += argvs
    # Every sample but a TensorRT-LLM-only one runs vLLM: at least four command lines are checked.
    assert len(items) >= 4, items
    verdict = check_vllm_args(items)
    assert verdict.returncode == 0 and not verdict.bad, f"{verdict.summary}\n" + "\n".join(
        f"{k}: {v}" for k, v in verdict.bad.items()
    )


def test_fuzzed_specs_render_command_lines_vllm_parses(tmp_path: Path) -> None:
    items = []
    rendered = 0
    for index, spec in enumerate(generated_specs(valid=FUZZED_SPECS, corrupted=0, seed=13)):
        if isinstance(spec.get("engine"), dict) and isinstance(spec["engine"].get("vllm"), dict):
            spec["engine"]["vllm"].pop("extraArgs", None)
        path = tmp_path / f"fuzz-{index}.yaml"
        path.write_text(yaml.safe_dump(body(f"fuzz-{index}", spec)))
        argvs = rendered_argvs(path, f"fuzz-{index}")
        if argvs is not None:
            rendered += 1
            items += argvs
    # The schema's valid specs mostly pass the operator's own checks; a handful rendering would make this vacuous.
    assert rendered >= FUZZED_SPECS // 4 and len(items) >= rendered // 2, (rendered, len(items))
    verdict = check_vllm_args(items)
    assert verdict.returncode == 0 and not verdict.bad, f"{verdict.summary}\n" + "\n".join(
        f"{k}: {v}" for k, v in verdict.bad.items()
    )


BAD_ARGVS = {
    "unknown-flag": (["m", "--no-such-flag", "1"], "unrecognized arguments: --no-such-flag"),
    "bad-dtype": (["m", "--dtype", "float64"], "invalid choice: 'float64'"),
    "bad-int": (["m", "--tensor-parallel-size", "two"], "invalid int value"),
    "bad-quantization": (["m", "--quantization", "nonsense"], "not one of vLLM's methods"),
    "float32-awq": (["m", "--quantization", "awq_marlin", "--dtype", "float32"], "--dtype float32 is not supported"),
    "no-model": (["--port", "8000"], "no model"),
}
GOOD_ARGV = ["m", "--revision", "main", "--host", "0.0.0.0", "--port", "8000", "--dtype", "bfloat16"]


@pytest.fixture(scope="module")
def bad_verdict() -> ArgvVerdict:
    """One checker run (vLLM's import takes ~20 s) for a good argv and every deliberately bad one."""
    return check_vllm_args([("good", GOOD_ARGV)] + [(name, argv) for name, (argv, _) in BAD_ARGVS.items()])


@pytest.mark.parametrize("name", sorted(BAD_ARGVS))
def test_the_checker_refuses_what_vllm_would(bad_verdict: ArgvVerdict, name: str) -> None:
    assert bad_verdict.returncode == 1
    assert "good" not in bad_verdict.bad
    assert BAD_ARGVS[name][1] in bad_verdict.bad[name]


def test_the_quantized_checkpoint_command_lines_parse_with_vllms_parser() -> None:
    """vLLM on a quantization build's checkpoint (issue 16 §2): FP8 -> modelopt (with an FP8 KV cache), NVFP4 ->
    modelopt_fp4, both methods vLLM v0.32.0 has; and the unquantized command line it serves until then."""
    fp8 = calibrated("a", "vllm", calibration={"kvCacheDtype": "fp8"})
    nvfp4 = calibrated("b", "vllm", quantization="nvfp4", gpu_product=B200)
    items = [
        ("fp8-checkpoint", only_container(render_vllm_deployment(fp8, None, "eb-fp8", STORE))["args"]),
        ("fp8-interim", only_container(render_vllm_deployment(fp8))["args"]),
        ("nvfp4-checkpoint", only_container(render_vllm_deployment(nvfp4, None, "eb-nvfp4", STORE))["args"]),
    ]
    assert "modelopt" in items[0][1] and "modelopt_fp4" in items[2][1]
    # INT8 (issue 20): compressed-tensors checkpoints, W8A8 and weight-only.
    for quantization in ("int8", "int8-wo"):
        body = calibrated_body("c", "vllm", quantization=quantization, gpu_product=A100)
        del body["spec"]["precision"]["calibration"]
        args = only_container(render_vllm_deployment(InferenceDeployment.model_validate(body)))["args"]
        assert args[args.index("--quantization") + 1] == "compressed-tensors"
        items.append((f"{quantization}-compressed-tensors", args))
    verdict = check_vllm_args(items)
    assert verdict.returncode == 0 and not verdict.bad, f"{verdict.summary}\n" + "\n".join(
        f"{k}: {v}" for k, v in verdict.bad.items()
    )
