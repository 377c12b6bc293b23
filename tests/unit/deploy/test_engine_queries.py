"""The list of vLLM queries an e2e test sends to a real Prometheus: complete, filled in, and only vLLM's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.queries import (
    DASHBOARD,
    alert_vllm_expressions,
    dashboard_vllm_queries,
    fill_variables,
    vllm_queries,
    vllm_series,
    without_threshold,
)


def test_every_vllm_target_of_the_shipped_dashboard_is_listed() -> None:
    text = DASHBOARD.read_text()
    # Counted independently of the walker: each vLLM target's expr is one JSON string holding "vllm:".
    expected = sum(1 for line in text.splitlines() if '"expr":' in line and "vllm:" in line)
    queries = dashboard_vllm_queries("ns-a", "dep-a")
    assert expected > 0 and len(queries) == expected
    for query in queries:
        assert "$" not in query.expr, query
        assert 'namespace="ns-a"' in query.expr and 'inference_operator_dev_deployment="dep-a"' in query.expr
        assert "trtllm_" not in query.expr and vllm_series(query)


def test_the_shipped_alerts_on_vllm_are_listed_with_their_signal() -> None:
    alerts = {q.title: q for q in alert_vllm_expressions()}
    assert {"VllmQueueHigh", "VllmKvCacheFull"} <= set(alerts)
    for query in alerts.values():
        assert query.source == "alert" and query.signal != query.expr
        assert vllm_series(query) and not query.signal.rstrip().endswith(("0", "1", "9"))
    assert alerts["VllmKvCacheFull"].expr.rstrip().endswith("> 0.9")


def test_all_queries_cover_dashboard_and_alerts() -> None:
    queries = vllm_queries("ns", "d", rate_interval="30s")
    assert {q.source for q in queries} == {"dashboard", "alert"}
    assert all("[30s]" in q.expr for q in queries if "rate(" in q.expr)


def test_panels_inside_collapsed_rows_and_both_variable_forms(tmp_path: Path) -> None:
    dashboard = {
        "panels": [
            {
                "type": "row",
                "title": "r",
                "panels": [{"title": "inner", "targets": [{"refId": "A", "expr": 'vllm:x{a="${namespace}"}'}]}],
            },
            {"title": "outer", "targets": [{"refId": "B", "expr": "rate(vllm:y[$__rate_interval])"}, {"expr": "up"}]},
        ]
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(dashboard))
    queries = dashboard_vllm_queries("n", "d", "5m", path=path)
    assert [(q.title, q.expr) for q in queries] == [("inner [A]", 'vllm:x{a="n"}'), ("outer [B]", "rate(vllm:y[5m])")]


def test_an_unknown_variable_is_an_error_naming_it() -> None:
    with pytest.raises(KeyError, match=r"\$cluster"):
        fill_variables('vllm:x{c="$cluster"}', {"namespace": "n"})


@pytest.mark.parametrize(
    ("expr", "signal"),
    [
        ("max(vllm:a) > 0.9", "max(vllm:a)"),
        ("avg(vllm:b)\n  >= 10\n", "avg(vllm:b)"),
        ("sum(vllm:c) == bool 1", "sum(vllm:c)"),
        ("rate(vllm:d[5m])", "rate(vllm:d[5m])"),
        ("vllm:e > vllm:f", "vllm:e > vllm:f"),
    ],
)
def test_without_threshold(expr: str, signal: str) -> None:
    assert without_threshold(expr) == signal
