"""kube-score (v1.20.0, built by `make testbed`) on what users deploy: the chart rendered with each values file
in charts/inference-operator/ci/, and every sample rendered by `inference-operator render`. Part of `make lint`.

    python hack/kube_score_lint.py [--accepted lint/kube-score-accepted.yaml]

Every finding (a warning or critical comment of a check) must be listed in the accepted-findings file with
the reason it stays; the lint fails on an unlisted finding and on a listed one that no longer occurs (stale),
so the file always says exactly what is accepted. One check of our own rides along, as kube-score has none
for it: `inference-operator/emptydir-size-limit` (an emptyDir without sizeLimit is disk the scheduler does
not count).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "inference-operator"
SAMPLES = REPO / "manifests" / "samples"
ACCEPTED = REPO / "lint" / "kube-score-accepted.yaml"
RELEASE = NAMESPACE = "inference-operator"
ENTRY_FIELDS = {"check", "summary", "where", "reason", "pending"}
EMPTYDIR_CHECK = "inference-operator/emptydir-size-limit"
OK_GRADE = 10  # kube-score's grade of a passed check (scorecard.GradeAllOK)
TIMEOUT = 300


@dataclass(frozen=True, order=True)
class Finding:
    target: str  # chart/<values file> or sample/<sample>
    kind: str
    name: str
    check: str
    summary: str
    path: str  # the container or volume the comment is about; empty for the whole object

    @property
    def where(self) -> str:
        return f"{self.target}: {self.kind}/{self.name}"

    def __str__(self) -> str:
        path = f" ({self.path})" if self.path else ""
        return f"{self.where}{path}: [{self.check}] {self.summary}"


@dataclass(frozen=True)
class Accepted:
    check: str
    summary: str
    where: tuple[str, ...]  # fnmatch patterns on Finding.where; each must match some finding
    reason: str
    pending: str | None

    def matches(self, finding: Finding) -> bool:
        return (finding.check, finding.summary) == (self.check, self.summary) and any(
            fnmatch.fnmatchcase(finding.where, pattern) for pattern in self.where
        )


def load_accepted(path: Path) -> list[Accepted]:
    """The accepted-findings file; a malformed entry is a one-line error naming the field."""
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    entries = doc.get("accepted")
    if not isinstance(entries, list):
        raise ValueError(f"{path.name}: `accepted` must be a list of entries")
    out = []
    for i, entry in enumerate(entries):
        label = f"{path.name}: accepted[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{label} must be a mapping")
        unknown = set(entry) - ENTRY_FIELDS
        if unknown:
            raise ValueError(f"{label}: unknown field {sorted(unknown)[0]!r} (fields: {sorted(ENTRY_FIELDS)})")
        for field in ("check", "summary", "reason"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise ValueError(f"{label}.{field} must be a non-empty string")
        where = entry.get("where")
        if not isinstance(where, list) or not where or not all(isinstance(w, str) and w for w in where):
            raise ValueError(f"{label}.where must be a non-empty list of patterns")
        pending = entry.get("pending")
        if pending is not None and not isinstance(pending, str):
            raise ValueError(f"{label}.pending must be a string")
        out.append(Accepted(entry["check"], entry["summary"], tuple(where), entry["reason"].strip(), pending))
    return out


def findings_from_report(target: str, report: list[dict[str, Any]]) -> list[Finding]:
    """Findings of a kube-score `--output-format json` (v2) report: every comment of a check that did not pass."""
    out = []
    for obj in report:
        kind = obj["type_meta"]["kind"]
        name = obj["object_meta"]["name"]
        for check in obj.get("checks") or []:
            if check.get("skipped") or check["grade"] >= OK_GRADE:
                continue
            for comment in check.get("comments") or [{"path": "", "summary": check["check"]["name"]}]:
                out.append(Finding(target, kind, name, check["check"]["id"], comment["summary"], comment["path"]))
    return out


def _pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Pod":
        return [spec]
    if doc.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = (spec.get("template") or {}).get("spec")
    return [template] if isinstance(template, dict) else []


def emptydir_findings(target: str, docs: list[dict[str, Any]]) -> list[Finding]:
    """Our check: every emptyDir of a pod template has a sizeLimit."""
    out = []
    for doc in docs:
        for pod in _pod_specs(doc):
            for volume in pod.get("volumes") or []:
                if "emptyDir" in volume and not (volume["emptyDir"] or {}).get("sizeLimit"):
                    summary = "emptyDir without sizeLimit"
                    out.append(
                        Finding(target, doc["kind"], doc["metadata"]["name"], EMPTYDIR_CHECK, summary, volume["name"])
                    )
    return out


def compare(findings: list[Finding], accepted: list[Accepted]) -> tuple[list[Finding], list[str]]:
    """(unlisted findings, stale entries): a pattern of an entry that matches no finding is stale."""
    unlisted = sorted(f for f in findings if not any(a.matches(f) for a in accepted))
    stale = []
    for entry in accepted:
        for pattern in entry.where:
            one = Accepted(entry.check, entry.summary, (pattern,), entry.reason, entry.pending)
            if not any(one.matches(f) for f in findings):
                stale.append(f"[{entry.check}] {entry.summary} @ {pattern}")
    return unlisted, stale


def _run(args: list[str], stdin: str | None = None, ok: tuple[int, ...] = (0,)) -> str:
    proc = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(args[:3])} ... failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _bin(flag: str, name: str) -> str:
    folder = _run(["bash", str(REPO / "testbed" / "bin-path.sh"), *([flag] if flag else [])]).strip()
    path = Path(folder) / name
    if not path.is_file():
        raise RuntimeError(f"{name} not found at {path}: run `make testbed` (it builds it from Go modules)")
    return str(path)


def renderings() -> dict[str, str]:
    """target -> YAML: the chart with each ci/ values file, and each sample through the operator's renderer."""
    helm = _bin("", "helm")
    out = {}
    for values in sorted((CHART / "ci").glob("*-values.yaml")):
        target = "chart/" + values.name.removesuffix("-values.yaml")
        out[target] = _run([helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--values", str(values)])
    for sample in sorted(SAMPLES.glob("*.yaml")):
        out[f"sample/{sample.stem}"] = _run(
            [sys.executable, "-m", "inference_operator.cli", "render", "-f", str(sample)]
        )
    return out


def kubernetes_version() -> str:
    """The test bed's pinned minor (testbed/versions.env), for kube-score's API-version checks."""
    for line in (REPO / "testbed" / "versions.env").read_text().splitlines():
        if line.startswith("K8S_VERSION="):
            return ".".join(line.split("=", 1)[1].strip().split(".")[:2])
    raise RuntimeError("testbed/versions.env has no K8S_VERSION")


def score(target: str, text: str, kube_score: str, version: str) -> list[Finding]:
    # kube-score exits 1 when a check is critical; the report on stdout is what counts.
    args = [kube_score, "score", "--output-format", "json", "--kubernetes-version", version, "-"]
    report = json.loads(_run(args, stdin=text, ok=(0, 1)) if text.strip() else "[]")
    docs = [d for d in yaml.safe_load_all(text) if d]
    return findings_from_report(target, report) + emptydir_findings(target, docs)


def collect() -> list[Finding]:
    kube_score, version = _bin("--checks", "kube-score"), kubernetes_version()
    return [f for target, text in renderings().items() for f in score(target, text, kube_score, version)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accepted", type=Path, default=ACCEPTED)
    args = parser.parse_args(argv)
    try:
        accepted = load_accepted(args.accepted)
        findings = collect()
    except (ValueError, RuntimeError) as exc:
        print(f"kube-score lint: {exc}", file=sys.stderr)
        return 2
    unlisted, stale = compare(findings, accepted)
    for finding in unlisted:
        print(f"kube-score lint: unlisted finding: {finding}", file=sys.stderr)
    for entry in stale:
        print(
            f"kube-score lint: stale entry in {args.accepted.name} (no longer found; remove it): {entry}",
            file=sys.stderr,
        )
    pending = sum(1 for f in findings if any(a.matches(f) and a.pending for a in accepted))
    print(
        f"kube-score lint: {len(findings)} findings, all listed ({pending} pending a fix)"
        if not (unlisted or stale)
        else f"kube-score lint: {len(unlisted)} unlisted, {len(stale)} stale",
        file=sys.stderr,
    )
    return 1 if unlisted or stale else 0


if __name__ == "__main__":
    sys.exit(main())
