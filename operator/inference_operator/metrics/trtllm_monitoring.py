"""The TensorRT-LLM part of the shipped alerts and dashboard, derived from the recipe table. Pure.

Release lines name their series differently (1.2.x `request_queue_time_seconds`, 1.3.0rc21+
`trtllm_request_queue_time_seconds`) and export different ones (only 1.3.0rc21+ has a KV-cache gauge). So
recording rules map each row's series to one operator-owned name per signal, and the dashboard and alerts query
only those names:

- a counter or histogram becomes its 5-minute rate, `inference_operator:trtllm_<signal>:rate5m` (histograms:
  `inference_operator:trtllm_<signal>_bucket:rate5m`), a gauge is copied to `inference_operator:trtllm_<signal>`;
- each recorded series keeps the pod's labels and gains `trtllm_recipe` (the row), so the rules of two rows can
  never write the same series;
- only series of our pods are recorded: the PodMonitor's deployment label set and the engine label
  tensorrt-llm (the unprefixed 1.2.x names are generic; any app could export `request_success_total`);
- a panel target or alert exists only for a signal some row exports, and says which rows lack it.

write_monitoring.py writes the result into charts/inference-operator/files; a unit test fails when the committed
files differ from what this module renders from the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..api.trtllm_recipes import RECIPES, SeriesKind, TrtllmRecipe, TrtllmSeries
from ..render.podmonitor import TARGET_DEPLOYMENT, TARGET_ENGINE

RECORDED_PREFIX = "inference_operator:trtllm_"
RECIPE_LABEL = "trtllm_recipe"
RATE_WINDOW = "5m"
GROUP_NAME = "inference-operator-trtllm"
# Our TensorRT-LLM pods only (render/podmonitor.py names the target labels).
OUR_PODS = f'{TARGET_DEPLOYMENT}!="", {TARGET_ENGINE}="tensorrt-llm"'
DASHBOARD_FILTER = f'namespace="$namespace", {TARGET_DEPLOYMENT}="$deployment"'

QUEUE_TIME = "request_queue_time_seconds"
KV_CACHE_UTILIZATION = "kv_cache_utilization"


def recorded_name(series: TrtllmSeries) -> str:
    """The operator-owned name a row's series is recorded under (the same for every row with the signal)."""
    if series.kind is SeriesKind.HISTOGRAM:
        return f"{RECORDED_PREFIX}{series.signal}_bucket:rate{RATE_WINDOW}"
    if series.kind is SeriesKind.COUNTER:
        return f"{RECORDED_PREFIX}{series.signal}:rate{RATE_WINDOW}"
    return f"{RECORDED_PREFIX}{series.signal}"


def _source_expr(series: TrtllmSeries) -> str:
    if series.kind is SeriesKind.HISTOGRAM:
        return f"rate({series.name}_bucket{{{OUR_PODS}}}[{RATE_WINDOW}])"
    if series.kind is SeriesKind.COUNTER:
        return f"rate({series.name}{{{OUR_PODS}}}[{RATE_WINDOW}])"
    return f"{series.name}{{{OUR_PODS}}}"


def recording_rules(recipes: Sequence[TrtllmRecipe] = RECIPES) -> list[dict[str, Any]]:
    """One rule per series of every row."""
    return [
        {"record": recorded_name(series), "expr": _source_expr(series), "labels": {RECIPE_LABEL: row.name.value}}
        for row in recipes
        for series in row.metrics.series
    ]


def _signal(recipes: Sequence[TrtllmRecipe], signal: str) -> TrtllmSeries | None:
    """The series of a signal (the first row's that has it: all rows record it under one name), or None."""
    return next((s for row in recipes for s in row.metrics.series if s.signal == signal), None)


def signal_rows(recipes: Sequence[TrtllmRecipe], signal: str) -> tuple[list[str], list[str]]:
    """(rows that export the signal, rows that do not), by name."""
    has = [r.name.value for r in recipes if any(s.signal == signal for s in r.metrics.series)]
    return has, [r.name.value for r in recipes if r.name.value not in has]


def _queue_time_alert(series: TrtllmSeries) -> dict[str, Any]:
    by = f"namespace, {TARGET_DEPLOYMENT}"
    return {
        "alert": "TrtllmQueueTimeHigh",
        "expr": f"histogram_quantile(0.95, sum by ({by}, le) ({recorded_name(series)})) > 5",
        "for": "15m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": f"TensorRT-LLM requests of {{{{ $labels.namespace }}}}/{{{{ $labels.{TARGET_DEPLOYMENT} }}}} "
            "queue too long.",
            "description": f"95% of requests to {{{{ $labels.namespace }}}}/{{{{ $labels.{TARGET_DEPLOYMENT} }}}} "
            "waited up to {{ $value | humanizeDuration }} before being scheduled, for 15 minutes. "
            "Add replicas or GPUs.",
        },
    }


def _kv_cache_alert(series: TrtllmSeries, recipes: Sequence[TrtllmRecipe]) -> dict[str, Any]:
    by = f"namespace, {TARGET_DEPLOYMENT}, pod"
    has, lacking = signal_rows(recipes, KV_CACHE_UTILIZATION)
    cannot = f" For {', '.join(lacking)} it cannot fire: no KV-cache series." if lacking else ""
    return {
        "alert": "TrtllmKvCacheFull",
        "expr": f"max by ({by}) ({recorded_name(series)}) > 0.9",
        "for": "15m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "TensorRT-LLM KV cache of {{ $labels.namespace }}/{{ $labels.pod }} is over 90% full.",
            "description": f"KV-cache usage of {{{{ $labels.pod }}}} "
            f"({{{{ $labels.namespace }}}}/{{{{ $labels.{TARGET_DEPLOYMENT} }}}}) has stayed at "
            "{{ $value | humanizePercentage }} for 15 minutes: new requests wait for blocks. Add replicas. "
            f"TensorRT-LLM {', '.join(has)} exports the series.{cannot}",
        },
    }


def alert_rules(recipes: Sequence[TrtllmRecipe] = RECIPES) -> list[dict[str, Any]]:
    """The TensorRT-LLM alerts, each only if some row exports its signal."""
    rules = []
    if (queue := _signal(recipes, QUEUE_TIME)) is not None:
        rules.append(_queue_time_alert(queue))
    if (kv := _signal(recipes, KV_CACHE_UTILIZATION)) is not None:
        rules.append(_kv_cache_alert(kv, recipes))
    return rules


def rule_groups(recipes: Sequence[TrtllmRecipe] = RECIPES) -> list[dict[str, Any]]:
    """One group: the records first, so the alerts after them read this evaluation's values."""
    return [{"name": GROUP_NAME, "rules": [*recording_rules(recipes), *alert_rules(recipes)]}]


# --- Dashboard ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelTarget:
    """A TensorRT-LLM query on a dashboard panel, of one signal."""

    panel: str  # the panel's title
    signal: str
    legend: str
    query: str  # PromQL with {series} for the recorded series, already filtered on the dashboard's variables


def _quantile(q: float) -> str:
    return f"histogram_quantile({q}, sum by (le) ({{series}}))"


# Signals no row lists yet have targets too: they appear once a row's series list names them.
PANEL_TARGETS: tuple[PanelTarget, ...] = (
    PanelTarget("Tokens per second", "generation_tokens_total", "TensorRT-LLM generated", "sum({series})"),
    PanelTarget("Tokens per second", "prompt_tokens_total", "TensorRT-LLM prompt", "sum({series})"),
    PanelTarget("Time to first token", "time_to_first_token_seconds", "TensorRT-LLM p50", _quantile(0.5)),
    PanelTarget("Time to first token", "time_to_first_token_seconds", "TensorRT-LLM p95", _quantile(0.95)),
    PanelTarget("Queue", "num_requests_waiting", "TensorRT-LLM waiting", "sum({series})"),
    PanelTarget("Queue", "num_requests_running", "TensorRT-LLM running", "sum({series})"),
    PanelTarget("Queue time p95", QUEUE_TIME, "TensorRT-LLM", _quantile(0.95)),
    PanelTarget("KV cache usage", KV_CACHE_UTILIZATION, "TensorRT-LLM {{pod}}", "max by (pod) ({series})"),
    PanelTarget("Inter-token latency", "time_per_output_token_seconds", "TensorRT-LLM p50", _quantile(0.5)),
    PanelTarget("Inter-token latency", "time_per_output_token_seconds", "TensorRT-LLM p95", _quantile(0.95)),
    PanelTarget(
        "Finished requests per second",
        "request_success_total",
        "TensorRT-LLM {{finished_reason}}",
        "sum by (finished_reason) ({series})",
    ),
)


def panel_targets(recipes: Sequence[TrtllmRecipe] = RECIPES) -> dict[str, list[tuple[str, str]]]:
    """Panel title -> (legend, expr) of its TensorRT-LLM targets, for the signals some row exports."""
    targets: dict[str, list[tuple[str, str]]] = {}
    for target in PANEL_TARGETS:
        series = _signal(recipes, target.signal)
        if series is None:
            continue
        expr = target.query.format(series=f"{recorded_name(series)}{{{DASHBOARD_FILTER}}}")
        targets.setdefault(target.panel, []).append((target.legend, expr))
    return targets


def is_trtllm_target(expr: str) -> bool:
    """Whether a dashboard target is one this module owns (or the hand-written kind it replaced)."""
    return RECORDED_PREFIX in expr or f'{TARGET_ENGINE}="tensorrt-llm"' in expr
