"""The kube-score lint (hack/kube_score_lint.py, run by `make lint`): kube-score v1.20.0 on the chart with each
ci/ values file and on every rendered sample, against lint/kube-score-accepted.yaml. An unlisted finding and a
stale entry both fail it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support.samples import REPO_ROOT


def _load_lint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kube_score_lint", REPO_ROOT / "hack" / "kube_score_lint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kube_score_lint"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


lint = _load_lint()
PENDING = "issue 14 operator change"


@pytest.fixture(scope="module")
def findings() -> list[Any]:
    found: list[Any] = lint.collect()
    return found


@pytest.fixture(scope="module")
def accepted() -> list[Any]:
    entries: list[Any] = lint.load_accepted(lint.ACCEPTED)
    return entries


def write_accepted(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"accepted": entries}))
    return path


def raw_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(lint.ACCEPTED.read_text())["accepted"]
    return entries


def test_every_rendering_is_scored(findings: list[Any]) -> None:
    targets = {f.target for f in findings}
    samples = {f"sample/{p.stem}" for p in (REPO_ROOT / "manifests" / "samples").glob("*.yaml")}
    charts = {"chart/default", "chart/ha", "chart/monitoring", "chart/namespaced", "chart/networkpolicy"}
    assert samples | charts <= targets


def test_the_committed_file_lists_exactly_the_findings(findings: list[Any], accepted: list[Any]) -> None:
    unlisted, stale = lint.compare(findings, accepted)
    assert not unlisted, "\n".join(map(str, unlisted))
    assert not stale, "\n".join(stale)


def test_a_finding_no_entry_lists_fails(
    findings: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [e for e in raw_entries() if e["check"] != "pod-probes-identical"]
    unlisted, stale = lint.compare(findings, lint.load_accepted(write_accepted(tmp_path / "a.yaml", entries)))
    assert not stale
    assert unlisted and {f.check for f in unlisted} == {"pod-probes-identical"}
    assert lint.main(["--accepted", str(tmp_path / "a.yaml")]) == 1
    assert "unlisted finding: sample/small-model: Deployment/qwen-small-vllm" in capsys.readouterr().err


def test_an_entry_that_no_longer_occurs_is_stale(findings: list[Any], tmp_path: Path) -> None:
    gone = {
        "check": "container-resources",
        "summary": "CPU request is not set",
        "where": ["sample/cpu-small: Deployment/qwen-cpu-vllm"],  # cpu-small requests CPU already
        "reason": "a stale entry",
    }
    unlisted, stale = lint.compare(
        findings, lint.load_accepted(write_accepted(tmp_path / "a.yaml", [*raw_entries(), gone]))
    )
    assert not unlisted
    assert stale == ["[container-resources] CPU request is not set @ sample/cpu-small: Deployment/qwen-cpu-vllm"]


def test_no_entry_waits_for_the_issue_14_operator_change(accepted: list[Any]) -> None:
    """That change landed: its pending entries are gone, and the memory limit one is a permanent decision."""
    assert not [a for a in accepted if a.pending == PENDING]
    memory_limit = [a for a in accepted if a.summary == "Memory limit is not set"]
    assert memory_limit and all(a.pending is None for a in memory_limit)


def test_no_rendered_pod_misses_a_request_or_a_size_limit(findings: list[Any]) -> None:
    """Issue 14: every engine pod and build Job requests CPU, memory and ephemeral storage, and sizes its emptyDirs."""
    missing = {
        f"{f.where}: {f.summary}"
        for f in findings
        if f.summary
        in (
            "CPU request is not set",
            "Memory request is not set",
            "Ephemeral Storage request is not set",
            "Ephemeral Storage limit is not set",
            "emptyDir without sizeLimit",
        )
    }
    assert not missing
    # The findings are there to be read: the permanent memory-limit entry still sees the GPU pods.
    no_limit = {f.where for f in findings if f.summary == "Memory limit is not set"}
    assert "sample/llama-3-1-70b-h100-tp8: Deployment/llama-3-1-70b-vllm" in no_limit


def test_report_parsing_skips_passed_and_skipped_checks() -> None:
    def check(cid: str, grade: int, skipped: bool = False, comments: Any = None) -> dict[str, Any]:
        return {"check": {"id": cid, "name": cid.title()}, "grade": grade, "skipped": skipped, "comments": comments}

    report = [
        {
            "type_meta": {"kind": "Deployment"},
            "object_meta": {"name": "web"},
            "checks": [
                check("ok", 10),
                check("skipped", 1, skipped=True),
                check("warn", 5, comments=[{"path": "c", "summary": "Few"}]),
                check("crit", 1),
            ],
        }
    ]
    assert [str(f) for f in lint.findings_from_report("sample/x", report)] == [
        "sample/x: Deployment/web (c): [warn] Few",
        "sample/x: Deployment/web: [crit] Crit",
    ]


def test_emptydir_check_covers_jobs_and_deployments() -> None:
    def pod(*volumes: dict[str, Any]) -> dict[str, Any]:
        return {"template": {"spec": {"volumes": list(volumes)}}}

    docs = [
        {"kind": "Job", "metadata": {"name": "b"}, "spec": pod({"name": "scratch", "emptyDir": {}})},
        {
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": pod({"name": "shm", "emptyDir": {"sizeLimit": "1Gi"}}),
        },
    ]
    assert [(f.name, f.path) for f in lint.emptydir_findings("sample/x", docs)] == [("b", "scratch")]


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"check": "x", "summary": "y", "where": ["*"], "reason": "r", "why": "?"}, "unknown field 'why'"),
        ({"check": "x", "summary": "y", "where": [], "reason": "r"}, r"accepted\[0\].where"),
        ({"check": "x", "summary": "y", "where": ["*"], "reason": ""}, r"accepted\[0\].reason"),
    ],
)
def test_a_malformed_entry_names_its_field(entry: dict[str, Any], error: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=error):
        lint.load_accepted(write_accepted(tmp_path / "a.yaml", [entry]))
