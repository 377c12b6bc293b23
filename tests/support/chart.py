"""The Helm chart from Python, for the unit and e2e tests: render it with given values, read its RBAC rules."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import testbed
from tests.support.samples import REPO_ROOT

CHART = REPO_ROOT / "charts" / "inference-operator"
RBAC_KINDS = frozenset({"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})


def helm_bin() -> Path:
    path = testbed.bin_dir() / "helm"
    if not path.is_file():
        pytest.fail(f"helm not found at {path}: run `make testbed` (it builds helm from Go modules)")
    return path


def helm(*args: str, check: bool = True, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    env_args = ["--kubeconfig", str(kubeconfig)] if kubeconfig else []
    proc = subprocess.run([str(helm_bin()), *args, *env_args], capture_output=True, text=True, timeout=300, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc


def values_file(values: dict[str, Any], directory: Path) -> Path:
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def template_text(
    values: dict[str, Any] | None = None,
    release: str = "inference-operator",
    namespace: str = "inference-operator",
    crds: bool = False,
    workdir: Path | None = None,
) -> str:
    """`helm template` output; values go through a file so that nested lists and maps survive as YAML."""
    args = ["template", release, str(CHART), "--namespace", namespace]
    if crds:
        args.append("--include-crds")
    if values:
        assert workdir is not None, "values need a workdir for their file"
        args += ["--values", str(values_file(values, workdir))]
    return helm(*args).stdout


def template(
    values: dict[str, Any] | None = None,
    release: str = "inference-operator",
    namespace: str = "inference-operator",
    crds: bool = False,
    workdir: Path | None = None,
) -> list[dict[str, Any]]:
    text = template_text(values, release, namespace, crds, workdir)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every policy rule of every Role and ClusterRole rendered."""
    return [rule for d in docs if d["kind"] in ("Role", "ClusterRole") for rule in d.get("rules") or []]


def grants(docs: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs, over every rule rendered."""
    table: dict[tuple[str, str], set[str]] = {}
    for rule in rules(docs):
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                table.setdefault((group, resource), set()).update(rule.get("verbs") or [])
    return table
