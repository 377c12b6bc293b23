"""Every TensorRT-LLM series the shipped rules read is one a row of the recipe table exports, and the dashboard
and alerts read only what the rules record from them.

TensorRT-LLM cannot run here (it needs an NVIDIA GPU), so no Prometheus can show a TensorRT-LLM query empty;
this test holds the queries to the table instead, and the 1.2.x row to a list written out from the engine's
source. tests/unit/deploy/test_monitoring_rules.py runs the rules in promtool on series of both rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from inference_operator.api.images import TRTLLM_IMAGE
from inference_operator.api.inference_deployment import Engine
from inference_operator.api.trtllm_recipes import PINNED_RECIPE, RECIPES_BY_NAME, TrtllmRecipeName
from inference_operator.metrics.engines import ENGINE_METRICS, series_names
from inference_operator.metrics.trtllm_monitoring import RECIPE_LABEL, RECORDED_PREFIX
from tests.support.queries import DASHBOARD, RULES, TRTLLM_ENGINE_SELECTOR, metric_names, trtllm_queries

# What trtllm-serve 1.2.1 serves on /prometheus/metrics: MetricsCollector in tensorrt_llm/metrics/collector.py
# (NVIDIA/TensorRT-LLM, as #5785 added it and the 1.2 line kept it) registers one Counter and four Histograms
# with prometheus_client, named without a prefix; prometheus_client exposes a Counter as _total and _created
# and a Histogram as _bucket, _sum, _count and _created. Nothing else: no token counters, queue gauges or
# KV-cache series (those are 1.3's, prefixed trtllm_: NVIDIA/TensorRT-LLM#11243, #12545).
PINNED_RELEASE = "1.2.1"
_HISTOGRAMS = (
    "e2e_request_latency_seconds",
    "time_to_first_token_seconds",
    "time_per_output_token_seconds",
    "request_queue_time_seconds",
)
TRTLLM_1_2_1_SERIES = frozenset(
    {"request_success_total", "request_success_created"}
    | {f"{name}_{suffix}" for name in _HISTOGRAMS for suffix in ("bucket", "sum", "count", "created")}
)


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def row_series(name: str) -> frozenset[str]:
    """The series names a row's queries may use (histograms expanded), from metrics/engines.py's expansion."""
    row = RECIPES_BY_NAME[TrtllmRecipeName(name)]
    metrics = {n: m for n, m in ENGINE_METRICS.items() if n in row.metrics.names}
    return series_names(metrics, engine=Engine.TENSORRT_LLM)


def test_the_list_is_of_the_release_the_operator_runs() -> None:
    # Moving TRTLLM_IMAGE to another release means reading its collector.py again and updating this list.
    assert TRTLLM_IMAGE.rsplit(":", 1)[1] == PINNED_RELEASE
    assert PINNED_RECIPE.name is TrtllmRecipeName.RELEASE_1_2


def test_the_1_2_row_lists_the_series_of_the_source() -> None:
    queryable = {name for name in TRTLLM_1_2_1_SERIES if not name.endswith("_created")}
    assert row_series(TrtllmRecipeName.RELEASE_1_2.value) == queryable


def test_every_recording_rule_reads_only_its_rows_series_and_every_series_is_recorded() -> None:
    records = [rule for rule in rules() if "record" in rule]
    assert records
    read: dict[str, set[str]] = {}
    for rule in records:
        row = rule["labels"][RECIPE_LABEL]
        names = metric_names(rule["expr"])
        assert names and names <= row_series(row), f"{rule['record']}: {row} exports no {names - row_series(row)}"
        assert rule["record"].startswith(RECORDED_PREFIX), rule
        assert TRTLLM_ENGINE_SELECTOR in rule["expr"], rule  # the 1.2.x names are generic
        read.setdefault(row, set()).update(names)
    for name, row in RECIPES_BY_NAME.items():
        bases = {n.removesuffix("_bucket") for n in read[name.value]}
        assert bases == set(row.metrics.names), name


def test_no_two_rules_record_the_same_series() -> None:
    keys = [(r["record"], r["labels"][RECIPE_LABEL]) for r in rules() if "record" in r]
    assert len(keys) == len(set(keys))


def test_dashboard_and_alerts_read_only_recorded_series() -> None:
    queries = [q for q in trtllm_queries() if not any(q.title == r for r in recorded())]
    assert {q.source for q in queries} == {"dashboard", "alert"}
    for query in queries:
        names = metric_names(query.expr)
        assert names, query
        assert names <= recorded(), f"{query.title}: no rule records {sorted(names - recorded())}"


def test_a_raw_series_on_the_dashboard_is_caught(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    dashboard["panels"].append(
        {
            "title": "late",
            "targets": [{"refId": "A", "expr": 'max(trtllm_kv_cache_utilization{namespace="$namespace"})'}],
        }
    )
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps(dashboard))
    late = [q for q in trtllm_queries(dashboard=path, rules=RULES) if q.title == "late [A]"]
    assert [metric_names(q.expr) - recorded() for q in late] == [{"trtllm_kv_cache_utilization"}]
