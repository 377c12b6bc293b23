"""`inference-operator render` and `crd` as a user runs them: a real subprocess, stdout and stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from inference_operator.api.settings import from_env
from inference_operator.controller.inference_deployment.lifecycle import engine_build_for
from tests.support.samples import SAMPLES_DIR, load_sample


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inference_operator.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def rendered(sample: str) -> list[dict[str, Any]]:
    proc = run_cli("render", "-f", str(SAMPLES_DIR / sample))
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def test_render_the_70b_sample() -> None:
    objects = rendered("llama-3-1-70b-h100-tp8.yaml")
    kinds = [o["kind"] for o in objects]
    assert "Deployment" in kinds and "Service" in kinds
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert pod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert "startupProbe" in container


def test_render_is_byte_identical_every_time() -> None:
    path = str(SAMPLES_DIR / "llama-3-1-70b-h100-trtllm.yaml")
    assert run_cli("render", "-f", path).stdout == run_cli("render", "-f", path).stdout


def test_render_json_is_a_list() -> None:
    proc = run_cli("render", "-f", str(SAMPLES_DIR / "small-model.yaml"), "-o", "json")
    assert proc.returncode == 0
    assert yaml.safe_load(proc.stdout)["kind"] == "List"


def test_misspelled_field_is_one_line_naming_it(tmp_path: Path) -> None:
    body = yaml.safe_load((SAMPLES_DIR / "small-model.yaml").read_text())
    body["spec"]["paralelism"] = body["spec"].pop("parallelism", {"tensor": 1})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(body))
    proc = run_cli("render", "-f", str(bad))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "spec.paralelism" in lines[0] and "Traceback" not in proc.stderr


def test_wrong_type_and_invalid_yaml_are_one_line(tmp_path: Path) -> None:
    body = yaml.safe_load((SAMPLES_DIR / "small-model.yaml").read_text())
    body["spec"]["replicas"] = "three"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(body))
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    for path, needle in ((wrong, "spec.replicas"), (broken, str(broken))):
        proc = run_cli("render", "-f", str(path))
        assert proc.returncode != 0
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert needle in proc.stderr


def test_bad_option_is_one_line() -> None:
    proc = run_cli("render", "-f", str(SAMPLES_DIR / "small-model.yaml"), "-o", "xml")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1


# render --engine-builds (precompile, issue 21)


def test_engine_builds_prints_exactly_the_engine_build_the_operator_would_create() -> None:
    proc = run_cli("render", "--engine-builds", "-f", str(SAMPLES_DIR / "llama-3-1-70b-h100-trtllm.yaml"))
    assert proc.returncode == 0, proc.stderr
    objects = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert objects == [engine_build_for(load_sample("llama-3-1-70b-h100-trtllm"), from_env())]
    full = rendered("llama-3-1-70b-h100-trtllm.yaml")
    assert objects == [o for o in full if o["kind"] == "EngineBuild"], "render and --engine-builds disagree"
    assert "uid" not in objects[0]["metadata"] and "ownerReferences" not in objects[0]["metadata"]


def test_engine_builds_of_several_resources_one_per_key_and_none_for_vllm(tmp_path: Path) -> None:
    trt = yaml.safe_load((SAMPLES_DIR / "llama-3-1-70b-h100-trtllm.yaml").read_text())
    twin = {**trt, "metadata": {"name": "twin"}}
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump(twin))
    proc = run_cli(
        "render",
        "--engine-builds",
        "-n",
        "llm",
        "-f",
        str(SAMPLES_DIR / "llama-3-1-70b-h100-trtllm.yaml"),
        "-f",
        str(tmp_path / "twin.yaml"),
        "-f",
        str(SAMPLES_DIR / "small-model.yaml"),
    )
    assert proc.returncode == 0, proc.stderr
    objects = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert [(o["kind"], o["metadata"]["namespace"]) for o in objects] == [("EngineBuild", "llm")]
    assert "small-model.yaml" in proc.stderr and "needs no engine build" in proc.stderr


def test_engine_builds_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    body = yaml.safe_load((SAMPLES_DIR / "llama-3-1-70b-h100-trtllm.yaml").read_text())
    del body["spec"]["resources"]["gpuProduct"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(body))
    proc = run_cli("render", "--engine-builds", "-f", str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "spec.resources.gpuProduct" in proc.stderr, proc.stderr
