"""kstatus (cli-utils v0.37.2 status.Compute, via testbed/tools/kstatus) and Argo CD's checks on the statuses of
tests/unit/fixtures/kstatus: today's shape gives issue 14's "now" column, the wanted shape its "wanted" column.
The fixtures' README is the target list the operator change must meet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from inference_operator.api.engine_build import EngineBuildStatus
from inference_operator.api.inference_deployment import InferenceDeploymentStatus
from tests.support.argocd import health
from tests.support.gitops_tools import argocd_health, checker, kstatus, kstatus_many
from tests.unit.deploy.kstatus_rows import COMPUTED

FIXTURES = Path(__file__).parents[1] / "fixtures" / "kstatus"
ROWS = {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}
ISSUE_ROWS = {  # issue 14's table: the row, kstatus now, kstatus wanted
    "infd-rolling-update": ("Current", "InProgress"),
    "infd-failed-invalid-spec": ("InProgress", "Failed"),
    "infd-failed-engine-unavailable": ("InProgress", "Failed"),
    "infd-degraded-progress-deadline": ("InProgress", "Failed"),
    "infd-suspended": ("InProgress", "Current"),
    "eb-pending": ("Current", "InProgress"),
    "eb-building": ("Current", "InProgress"),
    "eb-failed": ("Current", "Failed"),
}
STATUS_MODELS: dict[str, type[InferenceDeploymentStatus] | type[EngineBuildStatus]] = {
    "InferenceDeployment": InferenceDeploymentStatus,
    "EngineBuild": EngineBuildStatus,
}


def cases(column: str) -> list[str]:
    return [name for name, row in ROWS.items() if column in row]


def test_every_row_of_the_issue_has_a_fixture_with_the_issues_results() -> None:
    for name, (now, wanted) in ISSUE_ROWS.items():
        assert name in ROWS, f"no fixture for {name}"
        assert (ROWS[name]["today"]["kstatus"], ROWS[name]["wanted"]["kstatus"]) == (now, wanted), name


@pytest.mark.parametrize("name", cases("today"))
def test_todays_shape(name: str) -> None:
    case = ROWS[name]["today"]
    assert kstatus(case["object"])[0] == case["kstatus"]
    assert argocd_health(case["object"])[0] == case["argocd"]


@pytest.mark.parametrize("name", cases("wanted"))
def test_wanted_shape(name: str) -> None:
    case = ROWS[name]["wanted"]
    obj = case["object"]
    assert kstatus(obj)[0] == case["kstatus"]
    assert argocd_health(obj)[0] == case["argocd"]
    assert health(obj)[0] == case["argocd"], "the Python Lua runtime disagrees with gopher-lua"


@pytest.mark.parametrize("name", cases("wanted"))
def test_wanted_shape_is_writable_and_carries_its_conditions(name: str) -> None:
    """The target is a status the CRD's model accepts, and its `conditions` list is what the object holds."""
    case = ROWS[name]["wanted"]
    obj = case["object"]
    STATUS_MODELS[obj["kind"]].model_validate(obj["status"])
    held = {c["type"]: c for c in obj["status"]["conditions"]}
    assert len(held) == len(obj["status"]["conditions"]), "a condition type appears twice"
    for ctype, want in case["conditions"].items():
        assert ctype in held, f"{ctype} missing"
        assert held[ctype]["status"] == want["status"], ctype
        assert want["reason"] is None or held[ctype]["reason"] == want["reason"], ctype
    assert wanted_holds(obj, case["conditions"])


def wanted_holds(obj: dict[str, Any], conditions: dict[str, dict[str, str | None]]) -> bool:
    """Whether a (live) object carries the wanted conditions; the e2e of the operator change uses the same test."""
    held = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
    return all(
        t in held and held[t]["status"] == w["status"] and (w["reason"] is None or held[t]["reason"] == w["reason"])
        for t, w in conditions.items()
    )


def test_wanted_conditions_are_not_met_by_todays_shape() -> None:
    """The target list is not vacuous: the statuses written today miss it on every row of the issue."""
    for name in ISSUE_ROWS:
        row = ROWS[name]
        assert not wanted_holds(row["today"]["object"], row["wanted"]["conditions"]), name


def test_generation_not_observed_is_in_progress_whatever_the_conditions() -> None:
    obj = json.loads(json.dumps(ROWS["infd-ready"]["wanted"]["object"]))
    obj["metadata"]["generation"] = 3
    status, message = kstatus(obj)
    assert status == "InProgress"
    assert "generation is 3" in message


def test_many_objects_a_list_kind_and_a_deleted_object() -> None:
    ready = ROWS["infd-ready"]["today"]["object"]
    deleting = json.loads(json.dumps(ready))
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert [r["status"] for r in kstatus_many([ready, deleting])] == ["Current", "Terminating"]
    # A List, as `kubectl get -o json` prints it, is read item by item.
    listing = {"apiVersion": "v1", "kind": "List", "items": [ready, deleting]}
    proc = subprocess.run([checker("kstatus")], input=json.dumps(listing), capture_output=True, text=True, check=True)
    assert [r["status"] for r in json.loads(proc.stdout)] == ["Current", "Terminating"]


def test_a_malformed_generation_is_an_error_naming_the_object() -> None:
    obj = json.loads(json.dumps(ROWS["infd-ready"]["today"]["object"]))
    obj["metadata"]["generation"] = "two"
    with pytest.raises(AssertionError, match="InferenceDeployment qwen-small"):
        kstatus(obj)


@pytest.mark.parametrize("name", sorted(COMPUTED))
def test_the_operators_status_reaches_the_wanted_column(name: str) -> None:
    """The status the operator's own functions compute in each situation gives the wanted kstatus and Argo CD
    results and carries the wanted conditions (the e2e checks the same on live objects)."""
    case = ROWS[name]["wanted"]
    obj = {**case["object"], "status": COMPUTED[name]()}
    assert obj["status"]["phase"] == case["object"]["status"]["phase"]
    assert kstatus(obj)[0] == case["kstatus"], obj["status"]["conditions"]
    assert argocd_health(obj)[0] == case["argocd"]
    assert wanted_holds(obj, case["conditions"]), obj["status"]["conditions"]
    STATUS_MODELS[obj["kind"]].model_validate(obj["status"])


def test_every_situation_with_a_wanted_column_is_computed() -> None:
    assert set(COMPUTED) == set(cases("wanted"))
