"""Argo CD health checks (docs/argocd): run with Lua on statuses the operator's own status functions compute,
and the argocd-cm snippet kept equal to the Lua files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.api.inference_deployment import Engine, EngineStatus
from inference_operator.controller.engine_build.status import compute_build_status
from inference_operator.controller.facts import DeploymentFacts
from inference_operator.controller.inference_deployment.status import StatusInputs, compute_status, invalid_spec_status
from inference_operator.controller.plan import Action, Mode, Plan
from tests.support.argocd import DOCS, HEALTH_CHECKS, health
from tests.support.samples import REPO_ROOT, load_sample
from tests.support.trtllm_fixtures import created_build, infd_with

NOW = "2026-01-01T00:00:00Z"
INFD = load_sample("small-model")
PLAN = Plan(Action.APPLY, Action.DELETE, None, Engine.VLLM, Mode.DIRECT, "")
CHOICE = EngineStatus(selected=Engine.VLLM, reason="spec.engine.preference is vllm")


def infd_status(ready: int, desired: int = 1) -> dict[str, Any]:
    """The status the operator computes for small-model with `ready` of `desired` pods Ready."""
    facts = DeploymentFacts(
        name="qwen-small-vllm",
        generation=1,
        observed_generation=1,
        desired=desired,
        replicas=desired,
        ready=ready,
        updated=desired,
        available=ready,
        engine_build=None,
        progress_deadline_exceeded=False,
    )
    obs = StatusInputs(PLAN, {Engine.VLLM: facts, Engine.TENSORRT_LLM: None}, None, None, "http://x/v1", CHOICE)
    spec = INFD.spec.model_copy(update={"replicas": desired})
    infd = INFD.model_copy(update={"spec": spec, "metadata": {**INFD.metadata, "generation": 1}})
    return compute_status(infd, obs, {}, NOW)


def infd(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "InferenceDeployment", "metadata": {"name": "qwen-small", "generation": generation}}
    if status is not None:
        body["status"] = status
    return body


def build_status(job_conditions: list[dict[str, str]] | None, active: int = 0) -> dict[str, Any]:
    build = created_build(infd_with())
    job = None if job_conditions is None else {"status": {"conditions": job_conditions, "active": active}}
    return compute_build_status(build, job, "eb-job", "/engines/eb/engine", {}, NOW)


def engine_build(status: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "EngineBuild", "metadata": {"name": "eb", "generation": 1}}
    if status is not None:
        body["status"] = status
    return body


def test_ready_is_healthy() -> None:
    status = infd_status(ready=1)
    assert status["phase"] == "Ready"
    assert health(infd(status)) == ("Healthy", status["message"])


def test_model_loading_is_progressing() -> None:
    status = infd_status(ready=0)
    assert status["phase"] == "Deploying"
    assert health(infd(status))[0] == "Progressing"


def test_replicas_zero_is_suspended() -> None:
    status = infd_status(ready=0, desired=0)
    assert status["phase"] == "Suspended"
    assert health(infd(status))[0] == "Suspended"


def test_invalid_spec_is_degraded_with_the_operators_message() -> None:
    status = invalid_spec_status(1, "spec.parallelism.tensor must divide the model's attention heads", {}, NOW)
    assert health(infd(status)) == ("Degraded", status["message"])


def test_stale_observed_generation_is_progressing_whatever_the_phase() -> None:
    status = infd_status(ready=1)
    assert health(infd(status, generation=2))[0] == "Progressing"
    assert health(infd({k: v for k, v in status.items() if k != "observedGeneration"}))[0] == "Progressing"


def test_no_status_yet_is_progressing() -> None:
    assert health(infd(None))[0] == "Progressing"
    assert health(engine_build(None))[0] == "Progressing"


@pytest.mark.parametrize(
    ("phase", "expected"),
    [("Degraded", "Degraded"), ("Failed", "Degraded"), ("Pending", "Progressing"), ("Mystery", "Unknown")],
)
def test_every_phase_maps(phase: str, expected: str) -> None:
    assert health(infd({"phase": phase, "observedGeneration": 1}))[0] == expected


def test_failed_build_is_degraded() -> None:
    status = build_status([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}])
    assert status["phase"] == "Failed"
    assert health(engine_build(status)) == ("Degraded", status["message"])


def test_build_phases() -> None:
    assert health(engine_build(build_status([{"type": "Complete", "status": "True"}])))[0] == "Healthy"
    assert health(engine_build(build_status([], active=1)))[0] == "Progressing"
    assert health(engine_build(build_status(None)))[0] == "Progressing"


def test_argocd_cm_snippet_equals_the_lua_files(tmp_path: Path) -> None:
    out = tmp_path / "argocd-cm.yaml"
    subprocess.run([sys.executable, str(REPO_ROOT / "hack" / "gen_argocd_cm.py"), str(out)], check=True)
    assert (DOCS / "argocd-cm.yaml").read_text() == out.read_text(), "stale: run `make manifests`"
    data = yaml.safe_load(out.read_text())["data"]
    for kind, path in HEALTH_CHECKS.items():
        assert data[f"resource.customizations.health.inference-operator.dev_{kind}"] == path.read_text()


def test_example_applications_parse() -> None:
    apps = list(yaml.safe_load_all((DOCS / "application.yaml").read_text()))
    assert [a["kind"] for a in apps] == ["Application", "Application"]
    assert apps[0]["spec"]["source"]["path"] == "charts/inference-operator"
