"""Helpers shared by the test tiers: repository paths, and the samples parsed as the operator sees them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from inference_operator.api.inference_deployment import InferenceDeployment

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO_ROOT / "manifests" / "samples"

# What the API server adds to a sample once it is created in a namespace.
TEST_NAMESPACE = "default"
TEST_UID = "00000000-0000-4000-8000-000000000001"


def sample_names() -> list[str]:
    """Sample file stems, e.g. "small-model", sorted so that test ids are stable."""
    return sorted(path.stem for path in SAMPLES_DIR.glob("*.yaml"))


def sample_body(name: str) -> dict[str, Any]:
    """A sample as a CR body, with the namespace and uid the API server would give it."""
    body = yaml.safe_load((SAMPLES_DIR / f"{name}.yaml").read_text())
    assert isinstance(body, dict), f"{name}.yaml is not a YAML mapping"
    body["metadata"] = {**body["metadata"], "namespace": TEST_NAMESPACE, "uid": TEST_UID}
    return body


def load_sample(name: str) -> InferenceDeployment:
    return InferenceDeployment.model_validate(sample_body(name))


def cli_render(*args: str) -> str:
    """What `inference-operator render ARGS...` prints, run as users run it; fails the test on a non-zero exit."""
    proc = subprocess.run(
        [sys.executable, "-m", "inference_operator.cli", "render", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
