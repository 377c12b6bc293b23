"""The test bed's checkers from Python: kstatus (cli-utils' status.Compute, what Flux, kpt and Config Sync
read) and argolua (Argo CD's health checks in gopher-lua, set up as Argo CD sets it up).

Both are Go programs under testbed/tools/ built by `make testbed` into their own cache directory
(`testbed/bin-path.sh --checks`).
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.samples import REPO_ROOT

ARGOCD_CM = REPO_ROOT / "docs" / "argocd" / "argocd-cm.yaml"
KSTATUS_STATUSES = frozenset({"InProgress", "Failed", "Current", "Terminating", "NotFound", "Unknown"})
TIMEOUT = 60


@functools.cache
def checks_dir() -> Path:
    """Where `make testbed` puts kstatus, argolua and kube-score."""
    out = subprocess.run(
        ["bash", str(REPO_ROOT / "testbed" / "bin-path.sh"), "--checks"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return Path(out.stdout.strip())


def checker(name: str) -> Path:
    path = checks_dir() / name
    if not path.is_file():
        pytest.fail(f"{name} not found at {path}: run `make testbed` (it builds the checkers from Go modules)")
    return path


def _run(args: list[str], objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    proc = subprocess.run(args, input=json.dumps(objects), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{Path(args[0]).name} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    results: list[dict[str, str]] = json.loads(proc.stdout)
    assert len(results) == len(objects), f"{len(objects)} objects in, {len(results)} results out"
    return results


def kstatus_many(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """kstatus's {"status", "message"} of each object, in order."""
    results = _run([str(checker("kstatus"))], objects)
    for result in results:
        assert result["status"] in KSTATUS_STATUSES, f"not a kstatus status: {result}"
    return results


def kstatus(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) kstatus computes for one object: Current, InProgress, Failed, Terminating, ..."""
    result = kstatus_many([obj])[0]
    return result["status"], result["message"]


def argocd_health_many(objects: list[dict[str, Any]], argocd_cm: Path = ARGOCD_CM) -> list[dict[str, str]]:
    """Argo CD's {"status", "message"} (or {"error"}) of each object, from the health checks in `argocd_cm`."""
    return _run([str(checker("argolua")), "--argocd-cm", str(argocd_cm)], objects)


def argocd_health(obj: dict[str, Any], argocd_cm: Path = ARGOCD_CM) -> tuple[str, str]:
    """(status, message) Argo CD shows for `obj`; a script error fails the test with the Lua error."""
    result = argocd_health_many([obj], argocd_cm)[0]
    assert "error" not in result, f"health check failed in gopher-lua: {result['error']}"
    return result.get("status", ""), result.get("message", "")
