"""`inference-operator render` and `crd` as a user runs them: a real subprocess, stdout and stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.samples import SAMPLES_DIR


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
