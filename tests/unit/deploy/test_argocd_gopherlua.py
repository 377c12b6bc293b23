"""Argo CD's health checks run in gopher-lua, the VM Argo CD embeds, loaded from the generated argocd-cm the way
Argo CD loads a custom check (testbed/tools/argolua): every case of test_argocd_health.py gives the same
answer there as in the Python Lua runtime, and a rollout is Progressing in both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_operator.controller.facts import DeploymentFacts
from inference_operator.controller.inference_deployment.status import StatusInputs, compute_status, invalid_spec_status
from tests.support.argocd import health
from tests.support.gitops_tools import ARGOCD_CM, argocd_health, argocd_health_many
from tests.unit.deploy.test_argocd_health import (
    CHOICE,
    INFD,
    NOW,
    PLAN,
    build_status,
    engine_build,
    infd,
    infd_status,
)

API = "inference-operator.dev/v1alpha1"


def with_api(body: dict[str, Any]) -> dict[str, Any]:
    """Argo CD picks the check by group and kind, so the object needs its apiVersion."""
    return {"apiVersion": API, **body}


def rolling_update_status() -> dict[str, Any]:
    """What the operator writes today during a rollout: every replica Ready, one pod not yet updated."""
    facts = DeploymentFacts(
        name="qwen-small-vllm",
        generation=2,
        observed_generation=2,
        desired=2,
        replicas=3,
        ready=2,
        updated=1,
        available=2,
        engine_build=None,
        progress_deadline_exceeded=False,
    )
    obs = StatusInputs(PLAN, {PLAN.route: facts}, None, None, "http://x/v1", CHOICE)
    spec = INFD.spec.model_copy(update={"replicas": 2})
    body = INFD.model_copy(update={"spec": spec, "metadata": {**INFD.metadata, "generation": 2}})
    return compute_status(body, obs, {}, NOW)


def _cases() -> dict[str, tuple[Callable[[], dict[str, Any]], str]]:
    failed = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    invalid = "spec.parallelism.tensor must divide the model's attention heads"
    ready = infd_status(ready=1)
    cases: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
        "ready": (lambda: infd(ready), "Healthy"),
        "model-loading": (lambda: infd(infd_status(ready=0)), "Progressing"),
        "suspended": (lambda: infd(infd_status(ready=0, desired=0)), "Suspended"),
        "invalid-spec": (lambda: infd(invalid_spec_status(1, invalid, {}, NOW)), "Degraded"),
        "stale-generation": (lambda: infd(ready, generation=2), "Progressing"),
        "no-observed-generation": (
            lambda: infd({k: v for k, v in ready.items() if k != "observedGeneration"}),
            "Progressing",
        ),
        "infd-no-status": (lambda: infd(None), "Progressing"),
        "build-no-status": (lambda: engine_build(None), "Progressing"),
        "build-failed": (lambda: engine_build(build_status(failed)), "Degraded"),
        "build-complete": (lambda: engine_build(build_status([{"type": "Complete", "status": "True"}])), "Healthy"),
        "build-active": (lambda: engine_build(build_status([], active=1)), "Progressing"),
        "build-no-job": (lambda: engine_build(build_status(None)), "Progressing"),
        "rolling-update": (lambda: infd(rolling_update_status(), generation=2), "Progressing"),
    }
    for phase, expected in [
        ("Degraded", "Degraded"),
        ("Failed", "Degraded"),
        ("Pending", "Progressing"),
        ("Mystery", "Unknown"),
    ]:
        cases[f"phase-{phase}"] = (lambda p=phase: infd({"phase": p, "observedGeneration": 1}), expected)  # type: ignore[misc]
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_gopher_lua_agrees_with_the_python_runtime(name: str) -> None:
    make, expected = CASES[name]
    obj = with_api(make())
    assert argocd_health(obj) == health(obj)
    assert argocd_health(obj)[0] == expected


def test_rolling_update_is_progressing_with_the_rollout_message() -> None:
    status = rolling_update_status()
    assert status["phase"] == "Ready", "the case needs today's shape: phase Ready while rolling out"
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["status"] == "True"
    assert argocd_health(with_api(infd(status, generation=2))) == ("Progressing", progressing["message"])


def test_reconciling_condition_is_progressing_too() -> None:
    """The upcoming shape: Reconciling=True during a rollout, whatever Progressing says."""
    status = infd_status(ready=1)
    status["conditions"] = [c for c in status["conditions"] if c["type"] != "Progressing"] + [
        {
            "type": "Reconciling",
            "status": "True",
            "reason": "RollingOut",
            "message": "Rolling out.",
            "lastTransitionTime": NOW,
            "observedGeneration": 1,
        }
    ]
    assert argocd_health(with_api(infd(status))) == ("Progressing", "Rolling out.")
    assert health(with_api(infd(status))) == ("Progressing", "Rolling out.")


def test_stalled_condition_is_degraded_for_both_kinds() -> None:
    stalled = {
        "type": "Stalled",
        "status": "True",
        "reason": "InvalidSpec",
        "message": "Fix spec.model.",
        "lastTransitionTime": NOW,
        "observedGeneration": 1,
    }
    bodies = [
        with_api(infd({"phase": "Ready", "observedGeneration": 1, "conditions": [stalled]})),
        with_api(engine_build({"phase": "Building", "conditions": [stalled]})),
    ]
    assert [(r["status"], r["message"]) for r in argocd_health_many(bodies)] == [("Degraded", "Fix spec.model.")] * 2


def test_checks_run_without_the_libraries_argo_cd_leaves_closed(tmp_path: Path) -> None:
    """A check that used string or io (closed in Argo CD unless useOpenLibs) fails in argolua as in Argo CD."""
    cm = yaml.safe_load(ARGOCD_CM.read_text())
    key = "resource.customizations.health.inference-operator.dev_InferenceDeployment"
    cm["data"][key] = 'return {status = string.upper("healthy")}'
    path = tmp_path / "argocd-cm.yaml"
    path.write_text(yaml.safe_dump(cm))
    result = argocd_health_many([with_api(infd(None))], path)[0]
    assert "string" in result.get("error", ""), result


def test_an_invalid_status_is_unknown_as_in_argo_cd(tmp_path: Path) -> None:
    cm = yaml.safe_load(ARGOCD_CM.read_text())
    cm["data"]["resource.customizations.health.inference-operator.dev_EngineBuild"] = 'return {status = "Fine"}'
    path = tmp_path / "argocd-cm.yaml"
    path.write_text(yaml.safe_dump(cm))
    assert argocd_health(with_api(engine_build(None)), path) == ("Unknown", "Lua returned an invalid health status")
