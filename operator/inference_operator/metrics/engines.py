"""Metric names the engines export, each with its source, so dashboards and alerts name only real series.

vLLM serves Prometheus text on `/metrics` of its HTTP port. The names below are registered by
`PrometheusStatLogger` in vllm/v1/metrics/loggers.py and are the same from v0.11 through the release pinned in
api/images.py (listed on https://docs.vllm.ai/en/v0.32.0/usage/metrics/). Counters are registered without
`_total` (e.g. `vllm:prompt_tokens`) and exposed with it, so the table holds the exposed names.

trtllm-serve is different, and the difference matters for scraping:
- its `/metrics` returns JSON iteration statistics (`get_iteration_stats` in
  tensorrt_llm/serve/openai_server.py), not Prometheus text; scraping it makes the target fail (`up == 0`);
- Prometheus text is on `/prometheus/metrics`, mounted only when the LLM API option
  `return_perf_metrics: true` is set (`mount_metrics`, added by NVIDIA/TensorRT-LLM#5785, merged August 2025);
- the 1.2.x line (the pinned release, TRTLLM_IMAGE in api/images.py) exports exactly five
  request series, without a prefix: `MetricsCollector` in tensorrt_llm/metrics/collector.py of the 1.2 line
  (as #5785 added it) registers `request_success_total`, `e2e_request_latency_seconds`,
  `time_to_first_token_seconds`, `time_per_output_token_seconds` and `request_queue_time_seconds`, nothing
  else: no token counters, no queue gauges, no KV-cache series. (Read in #5785's collector.py; the v1.2.1 tag
  itself was not read here. The 1.2 line predates the renames below: 1.3.0rc0 reached PyPI in January 2026,
  1.2.0 in March; vllm-project/aibrix#2004 shows the five bare names scraped from a 1.2 server.)
- they are stored under these names whether Prometheus scrapes the pods by annotation or through the
  PodMonitor (which renames nothing);
- NVIDIA/TensorRT-LLM#11243 (February 2026) added the `trtllm_` prefix with `trtllm_kv_cache_utilization` and
  `trtllm_kv_cache_hit_rate`; the 1.3.0rc21+ row of the recipe table lists them.
- The recipe table (api/trtllm_recipes.py) lists each release line's series and the options that turn them on;
  the TensorRT-LLM entries below are taken from it, every row's. Dashboards and alerts never query them
  directly: metrics/trtllm_monitoring.py records each row's series under one operator-owned name per signal
  (`inference_operator:trtllm_...`), so a panel or alert works for every release line that has the signal.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..api.inference_deployment import Engine
from ..api.trtllm_recipes import RECIPES, TrtllmRecipe

VLLM_METRICS_PATH = "/metrics"
TRTLLM_METRICS_PATH = "/prometheus/metrics"

VLLM_LOGGERS_SOURCE = "vllm-project/vllm vllm/v1/metrics/loggers.py (PrometheusStatLogger), v0.11 onwards"


class MetricKind(enum.StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class EngineMetric:
    engine: Engine
    kind: MetricKind
    meaning: str
    source: str


def _vllm(kind: MetricKind, meaning: str) -> EngineMetric:
    return EngineMetric(Engine.VLLM, kind, meaning, VLLM_LOGGERS_SOURCE)


def _trtllm(recipes: tuple[TrtllmRecipe, ...]) -> dict[str, EngineMetric]:
    """Every row's series: tensorrt_llm/metrics/collector.py (MetricsCollector) as each row's sources say."""
    return {
        series.name: EngineMetric(
            Engine.TENSORRT_LLM,
            MetricKind(series.kind.value),
            series.meaning,
            f"TensorRT-LLM {row.name.value} row of api/trtllm_recipes.py: {row.sources[-1]}",
        )
        for row in recipes
        for series in row.metrics.series
    }


_C, _G, _H = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM

# Exposed name (histograms: the base name, without _bucket/_sum/_count) -> what it is and where it is defined.
ENGINE_METRICS: Mapping[str, EngineMetric] = MappingProxyType(
    {
        "vllm:num_requests_running": _vllm(_G, "Requests in model execution batches."),
        "vllm:num_requests_waiting": _vllm(_G, "Requests waiting to be scheduled: the queue."),
        "vllm:kv_cache_usage_perc": _vllm(_G, "KV-cache usage, 1 = full (was vllm:gpu_cache_usage_perc)."),
        "vllm:prompt_tokens_total": _vllm(_C, "Prefill tokens processed."),
        "vllm:generation_tokens_total": _vllm(_C, "Generated tokens."),
        "vllm:request_success_total": _vllm(_C, "Finished requests, by finished_reason."),
        "vllm:num_preemptions_total": _vllm(_C, "Requests preempted for lack of KV cache."),
        "vllm:time_to_first_token_seconds": _vllm(_H, "Time to first token."),
        "vllm:inter_token_latency_seconds": _vllm(_H, "Time between generated tokens (new in 0.11)."),
        "vllm:e2e_request_latency_seconds": _vllm(_H, "End-to-end request latency."),
        "vllm:request_queue_time_seconds": _vllm(_H, "Time a request spent waiting."),
        **_trtllm(RECIPES),
    }
)

# Names that older releases used and the pinned ones no longer expose by default; never query them.
RETIRED_ENGINE_METRICS: Mapping[str, str] = MappingProxyType(
    {
        "vllm:gpu_cache_usage_perc": "0.9.2 renamed it vllm:kv_cache_usage_perc; hidden in 0.11, then gone",
        "vllm:gpu_prefix_cache_hits_total": "0.9.2 renamed it vllm:prefix_cache_hits; then gone",
        "vllm:time_per_output_token_seconds": "0.11 renamed it vllm:inter_token_latency_seconds",
        "vllm:num_requests_swapped": "vLLM V0 only; the V1 engine has no swapping",
        "vllm:avg_generation_throughput_toks_per_s": "vLLM V0 only; use rate(vllm:generation_tokens_total)",
    }
)

_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def series_names(metrics: Mapping[str, EngineMetric] = ENGINE_METRICS, engine: Engine | None = None) -> frozenset[str]:
    """Every series name a query may use (of one engine, if given): histograms expand to _bucket, _sum, _count."""
    names: set[str] = set()
    for name, metric in metrics.items():
        if engine is not None and metric.engine is not engine:
            continue
        if metric.kind is MetricKind.HISTOGRAM:
            names.update(name + suffix for suffix in _HISTOGRAM_SUFFIXES)
        else:
            names.add(name)
    return frozenset(names)


def metrics_path(engine: Engine) -> str:
    """Where an engine serves Prometheus text (not trtllm-serve's JSON /metrics)."""
    return VLLM_METRICS_PATH if engine is Engine.VLLM else TRTLLM_METRICS_PATH
