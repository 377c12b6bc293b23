"""`--repeat K`: per N the median and the spread over the rounds (never the best run), and writes by verb and kind."""

from __future__ import annotations

from typing import Any

import pytest
from bench import report, summary


def run(n: int, t_op: float, t_floor: float, writes: dict[str, float], **extra: Any) -> dict[str, Any]:
    return {
        "n": n,
        "t_operator_s": t_op,
        "t_floor_s": t_floor,
        "ratio": round(t_op / t_floor, 3),
        "rss_mb": {"converged": 100.0, "peak": 110.0},
        "operator_writes_per_resource": sum(writes.values()),
        "requests_per_resource": {"operator_writes": writes},
        **extra,
    }


def test_the_median_is_reported_with_min_and_max_not_the_best_run() -> None:
    assert summary.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    assert summary.spread([4.0, 1.0]) == {"median": 2.5, "min": 1.0, "max": 4.0, "runs": 2}
    with pytest.raises(ValueError):
        summary.spread([])


def test_rounds_are_grouped_by_n_in_the_order_they_ran() -> None:
    runs = [
        run(1000, 60.0, 50.0, {"APPLY deployments": 1.0}),
        run(100, 6.0, 5.0, {"APPLY deployments": 1.0}),
        run(1000, 90.0, 50.0, {"APPLY deployments": 1.0}),
        run(1000, 55.0, 50.0, {"APPLY deployments": 1.0}),
    ]
    out = summary.summarize(runs)
    assert list(out) == ["1000", "100"]
    figures = out["1000"]["figures"]
    assert out["1000"]["runs"] == 3
    assert figures["t_operator_s"] == {"median": 60.0, "min": 55.0, "max": 90.0, "runs": 3}
    assert figures["ratio"]["median"] == 1.2
    assert "t_peer_s" not in figures  # no peer ran: no figure, rather than a zero


def test_writes_by_verb_and_kind_take_the_median_per_row_and_a_missing_row_as_zero() -> None:
    rows = [
        {"APPLY deployments": 1.0, "POST events": 1.0},
        {"APPLY deployments": 1.0},
        {"APPLY deployments": 1.0, "POST events": 0.5},
    ]
    assert summary.by_verb_and_kind(rows) == {"APPLY deployments": 1.0, "POST events": 0.5}


def test_the_peer_gets_its_own_column() -> None:
    runs = [
        run(20, 7.0, 6.0, {"APPLY services": 1.0}, t_peer_s=9.0, peer_writes={"PUT inferenceservices/status": 2.0}),
        run(20, 8.0, 6.0, {"APPLY services": 1.0}, t_peer_s=8.0, peer_writes={"PUT inferenceservices/status": 3.0}),
    ]
    writes = summary.summarize(runs)["20"]["writes_by_verb_and_kind"]
    assert writes == {"operator": {"APPLY services": 1.0}, "peer": {"PUT inferenceservices/status": 2.5}}


def test_nested_figures_are_found_and_absent_ones_skipped() -> None:
    r = run(20, 7.0, 6.0, {}, restart={"t_verified_s": 3.5, "writes": 0}, churn={"latency_s": {"p99": 0.8}})
    assert summary.lookup(r, "restart.t_verified_s") == 3.5
    assert summary.lookup(r, "restart.writes") == 0.0
    assert summary.lookup(r, "churn.latency_s.p99") == 0.8
    assert summary.lookup(r, "floor_churn.latency_s.p99") is None
    assert summary.lookup({"restart": {"t_verified_s": None}}, "restart.t_verified_s") is None


def test_one_docs_row_per_n_carries_median_and_spread() -> None:
    runs = [run(100, t, 5.0, {"APPLY deployments": 1.0}) for t in (6.0, 5.5, 7.0)]
    for r in runs:
        r |= {
            "t_ready_s": 8.0,
            "operator_writes_per_resource_to_converged": 3.0,
            "idle": {"operator_writes_per_minute": 0},
        }
        r |= {"latency_s": {"p50": 1.0, "p99": 2.0}, "floor_latency_s": {"p50": 0.9, "p99": 1.9}}
    result = {
        "date": "2026-12-02T05:00:00Z",
        "label": "abc",
        "command": "make bench",
        "machine": {"nproc": 2, "memory_gib": 24, "python": "3.11", "kopf": "1.45.2", "kubernetes": "v1.34"},
        "runs": runs,
        "summary": summary.summarize(runs),
    }
    rows = report.docs_rows(result)
    assert len(rows) == 1
    assert "| abc, median of 3 | 100 | 6 (5.5-7) |" in rows[0]
    assert "| 1000/2000 | 900/1900 |" in rows[0]
