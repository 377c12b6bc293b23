"""Every engine query of the shipped dashboard and alert rules: vLLM's, ready to send to Prometheus, and
TensorRT-LLM's, to check against the series the pinned release exports.

An e2e test sends each vLLM query after some traffic and fails on one that returns nothing. Dashboard variables
are filled in: $namespace and $deployment with the resource under test, $__rate_interval with a window that
covers a few scrapes. TensorRT-LLM cannot run here (no NVIDIA GPU), so its queries are checked by name only:
`trtllm_queries` finds them (a `trtllm_` series, the recorded `inference_operator:trtllm_` ones included, or a
selector on the tensorrt-llm engine label, as the recording rules of the unprefixed 1.2.x names need) and
`metric_names` says which series each one reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from inference_operator.metrics.write_monitoring import all_panels

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "charts" / "inference-operator" / "files" / "dashboard.json"
RULES = REPO_ROOT / "charts" / "inference-operator" / "files" / "prometheus-rules.yaml"
# A vLLM series: `vllm:` followed by a metric name (vllm/v1/metrics/loggers.py names them all so).
VLLM_SERIES = re.compile(r"\bvllm:[a-zA-Z_][a-zA-Z0-9_]*")
# A query reads TensorRT-LLM when it names a `trtllm_` series (1.3.0rc21+, or a recorded inference_operator:trtllm_
# one) or selects the engine label of TensorRT-LLM pods (how the unprefixed 1.2.x series are told apart).
TRTLLM_ENGINE_SELECTOR = 'inference_operator_dev_engine="tensorrt-llm"'
TRTLLM_QUERY = re.compile(r"\btrtllm_[a-zA-Z0-9_]*|" + re.escape(TRTLLM_ENGINE_SELECTOR))
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
# A trailing comparison with a number (`... > 10`): an alert returns series only while it fires.
_THRESHOLD = re.compile(r"\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?-?[0-9.eE+]+\s*$")


@dataclass(frozen=True)
class EngineQuery:
    source: str  # "dashboard" or "alert"
    title: str  # the panel title (with the target's refId) or the alert name
    expr: str  # PromQL with the dashboard's variables filled in

    @property
    def signal(self) -> str:
        """The expression without a trailing threshold: what must return series once vLLM is scraped (the
        full alert expression returns some only while the alert fires)."""
        return without_threshold(self.expr)


def without_threshold(expr: str) -> str:
    return _THRESHOLD.sub("", expr.strip())


def fill_variables(expr: str, values: dict[str, str]) -> str:
    """Replaces $name and ${name}; a variable without a value is an error naming it."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"dashboard variable ${name} has no value (in {expr!r})")
        return values[name]

    return _VARIABLE.sub(one, expr)


def _dashboard_queries(
    engine: re.Pattern[str], namespace: str, deployment: str, rate_interval: str, path: Path
) -> list[EngineQuery]:
    dashboard = json.loads(path.read_text())
    values = {"namespace": namespace, "deployment": deployment, "__rate_interval": rate_interval}
    queries = []
    for panel in all_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            if engine.search(expr):
                title = f"{panel.get('title', '?')} [{target.get('refId', '?')}]"
                queries.append(EngineQuery("dashboard", title, fill_variables(expr, values)))
    return queries


def _alert_expressions(engine: re.Pattern[str], path: Path) -> list[EngineQuery]:
    rules = yaml.safe_load(path.read_text())
    return [
        EngineQuery("alert", rule.get("alert") or rule.get("record", "?"), rule["expr"].strip())
        for group in rules["groups"]
        for rule in group["rules"]
        if engine.search(rule["expr"])
    ]


def dashboard_vllm_queries(
    namespace: str, deployment: str, rate_interval: str = "1m", path: Path = DASHBOARD
) -> list[EngineQuery]:
    return _dashboard_queries(VLLM_SERIES, namespace, deployment, rate_interval, path)


def alert_vllm_expressions(path: Path = RULES) -> list[EngineQuery]:
    return _alert_expressions(VLLM_SERIES, path)


def vllm_queries(namespace: str, deployment: str, rate_interval: str = "1m") -> list[EngineQuery]:
    """Every dashboard query and alert expression that reads a vLLM series."""
    return dashboard_vllm_queries(namespace, deployment, rate_interval) + alert_vllm_expressions()


def vllm_series(query: EngineQuery) -> list[str]:
    """The vLLM metric names a query reads, e.g. ["vllm:kv_cache_usage_perc"]."""
    return sorted(set(VLLM_SERIES.findall(query.expr)))


def trtllm_queries(dashboard: Path = DASHBOARD, rules: Path = RULES) -> list[EngineQuery]:
    """Every dashboard query and alert expression that reads TensorRT-LLM (variables filled with placeholders)."""
    return _dashboard_queries(TRTLLM_QUERY, "ns", "dep", "5m", dashboard) + _alert_expressions(TRTLLM_QUERY, rules)


# --- Metric names in PromQL -----------------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers left once strings, matchers, ranges and grouping
    clauses are removed, that are neither keywords nor function calls."""
    rest = _GROUPING.sub("", _RANGES.sub("", _MATCHERS.sub("", _STRINGS.sub('""', expr))))
    return {
        m.group()
        for m in _IDENT.finditer(rest)
        if m.group() not in _KEYWORDS and not rest[m.end() :].lstrip().startswith("(")
    }
