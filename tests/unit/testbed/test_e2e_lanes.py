"""The lanes of hack/e2e.sh: every e2e module runs in exactly one, and the names the lanes list are modules."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import ALONE_LANE, ENGINE_LANE, lane_of

E2E = Path(__file__).resolve().parents[2] / "e2e"
MODULES = {p.stem for p in E2E.glob("test_*.py")}


def test_every_listed_module_exists() -> None:
    """A renamed module would fall silently into the kwok lane, beside the engine lane it must not overlap."""
    assert sorted((ENGINE_LANE | ALONE_LANE) - MODULES) == []
    assert not ENGINE_LANE & ALONE_LANE


def test_each_module_has_one_lane_and_the_real_engine_modules_are_the_engine_lane() -> None:
    lanes = {m: lane_of(m) for m in MODULES}
    assert set(lanes.values()) == {"engine", "kwok", "alone"}
    assert {m for m, lane in lanes.items() if lane == "engine"} == set(ENGINE_LANE)
    assert lanes["test_install_rbac"] == "alone" and lanes["test_chaos"] == "kwok"


def test_the_script_runs_the_three_lanes_and_alone_after_the_other_two() -> None:
    script = (E2E.parents[1] / "hack" / "e2e.sh").read_text()
    order = [script.index(f"lane {name} ") for name in ("engine", "kwok", "alone")]
    assert order == sorted(order)
    assert 'wait "$engine"' in script[: order[2]], "alone must wait for the engine lane"
