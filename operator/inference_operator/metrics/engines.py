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
  iteration gauges such as KV-cache utilization also need `enable_iter_perf_stats: true`;
- TensorRT-LLM 1.1-1.2 export five request metrics without a prefix (`time_to_first_token_seconds`, ...;
  see Dynamo's "TensorRT-LLM Prometheus Metrics" page for 1.1.0rc5 and vllm-project/aibrix#2004 for 1.2
  output); later releases prefix them `trtllm_` and add queue, KV-cache and token series
  (NVIDIA/TensorRT-LLM#12545). The PodMonitor renames the unprefixed five to their `trtllm_` names, so one
  set of queries covers both;
- whether the pinned 1.0.0 image already carries #5785 is not confirmed: TRT-LLM panels may show no data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..api.inference_deployment import Engine

VLLM_METRICS_PATH = "/metrics"
TRTLLM_METRICS_PATH = "/prometheus/metrics"

VLLM_LOGGERS_SOURCE = "vllm-project/vllm vllm/v1/metrics/loggers.py (PrometheusStatLogger), v0.11 onwards"
TRTLLM_5785_SOURCE = "NVIDIA/TensorRT-LLM#5785 tensorrt_llm/metrics/collector.py (MetricsCollector)"
TRTLLM_12545_SOURCE = "NVIDIA/TensorRT-LLM#12545 tensorrt_llm/metrics/collector.py (iteration, tokens)"

TRTLLM_PREFIX = "trtllm_"

# The request metrics TensorRT-LLM 1.1-1.2 expose without a prefix; the PodMonitor adds `trtllm_` to them.
TRTLLM_UNPREFIXED_SERIES_REGEX = (
    "(request_success_(?:total|created)"
    "|(?:e2e_request_latency|time_to_first_token|time_per_output_token|request_queue_time)"
    "_seconds_(?:bucket|sum|count|created))"
)


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


def _trtllm(kind: MetricKind, meaning: str, source: str) -> EngineMetric:
    return EngineMetric(Engine.TENSORRT_LLM, kind, meaning, source)


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
        "trtllm_request_success_total": _trtllm(_C, "Finished requests, by reason.", TRTLLM_5785_SOURCE),
        "trtllm_e2e_request_latency_seconds": _trtllm(_H, "End-to-end request latency.", TRTLLM_5785_SOURCE),
        "trtllm_time_to_first_token_seconds": _trtllm(_H, "Time to first token.", TRTLLM_5785_SOURCE),
        "trtllm_time_per_output_token_seconds": _trtllm(_H, "Time per output token.", TRTLLM_5785_SOURCE),
        "trtllm_request_queue_time_seconds": _trtllm(_H, "Time a request spent waiting.", TRTLLM_5785_SOURCE),
        "trtllm_kv_cache_utilization": _trtllm(
            _G, "Used / max KV-cache blocks, 1 = full (needs enable_iter_perf_stats).", TRTLLM_12545_SOURCE
        ),
        "trtllm_num_requests_waiting": _trtllm(_G, "Queued requests.", TRTLLM_12545_SOURCE),
        "trtllm_num_requests_running": _trtllm(_G, "Active requests.", TRTLLM_12545_SOURCE),
        "trtllm_prompt_tokens_total": _trtllm(_C, "Prompt tokens processed.", TRTLLM_12545_SOURCE),
        "trtllm_generation_tokens_total": _trtllm(_C, "Generated tokens.", TRTLLM_12545_SOURCE),
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


def series_names(metrics: Mapping[str, EngineMetric] = ENGINE_METRICS) -> frozenset[str]:
    """Every series name a query may use: histograms expand to their _bucket, _sum and _count series."""
    names: set[str] = set()
    for name, metric in metrics.items():
        if metric.kind is MetricKind.HISTOGRAM:
            names.update(name + suffix for suffix in _HISTOGRAM_SUFFIXES)
        else:
            names.add(name)
    return frozenset(names)


def metrics_path(engine: Engine) -> str:
    """Where an engine serves Prometheus text (not trtllm-serve's JSON /metrics)."""
    return VLLM_METRICS_PATH if engine is Engine.VLLM else TRTLLM_METRICS_PATH
