"""Every TensorRT-LLM series the shipped dashboard and alerts read is one the pinned trtllm-serve exports.

TensorRT-LLM cannot run here (it needs an NVIDIA GPU), so no Prometheus can show a TensorRT-LLM query empty;
this test holds the queries to the list of series below instead, written out from the engine's source.
"""

from __future__ import annotations

import json
from pathlib import Path

from inference_operator.api.images import TRTLLM_IMAGE
from inference_operator.api.inference_deployment import Engine
from inference_operator.metrics.engines import TRTLLM_METRICS_RELEASE, series_names
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


def test_the_list_is_of_the_release_the_operator_runs() -> None:
    # Moving TRTLLM_IMAGE to another release means reading its collector.py again and updating this list.
    assert TRTLLM_IMAGE.rsplit(":", 1)[1] == TRTLLM_METRICS_RELEASE == PINNED_RELEASE


def test_every_trtllm_series_of_the_dashboard_and_alerts_is_exported() -> None:
    queries = trtllm_queries()
    assert {q.source for q in queries} == {"dashboard", "alert"}
    for query in queries:
        names = metric_names(query.expr)
        assert names, query
        assert names <= TRTLLM_1_2_1_SERIES, (
            f"{query.title}: TensorRT-LLM 1.2.1 exports no {sorted(names - TRTLLM_1_2_1_SERIES)}"
        )


def test_every_trtllm_query_selects_the_engine_label() -> None:
    # The 1.2.1 names are generic (request_success_total): only the engine label makes them TensorRT-LLM's.
    for query in trtllm_queries():
        assert TRTLLM_ENGINE_SELECTOR in query.expr, query


def test_the_operator_table_lists_the_same_series() -> None:
    queryable = {name for name in TRTLLM_1_2_1_SERIES if not name.endswith("_created")}
    assert series_names(engine=Engine.TENSORRT_LLM) == queryable


def test_a_series_of_a_later_release_is_caught(tmp_path: Path) -> None:
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
    assert [metric_names(q.expr) - TRTLLM_1_2_1_SERIES for q in late] == [{"trtllm_kv_cache_utilization"}]
