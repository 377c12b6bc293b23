"""Per N over the rounds of one invocation (`--repeat K`): the median and the spread (min-max) of each figure, never
the best run, and the writes per new resource by verb and kind, the operator's beside the peer's. Pure."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

# (key in the summary, where it is in a run: dotted path). Figures a run does not have are left out.
FIGURES: tuple[tuple[str, str], ...] = (
    ("t_operator_s", "t_operator_s"),
    ("t_floor_s", "t_floor_s"),
    ("ratio", "ratio"),
    ("t_ready_s", "t_ready_s"),
    ("rss_converged_mb", "rss_mb.converged"),
    ("rss_peak_mb", "rss_mb.peak"),
    ("writes_per_resource", "operator_writes_per_resource"),
    ("writes_per_resource_to_converged", "operator_writes_per_resource_to_converged"),
    ("idle_writes_per_minute", "idle.operator_writes_per_minute"),
    ("latency_p50_s", "latency_s.p50"),
    ("latency_p99_s", "latency_s.p99"),
    ("floor_latency_p50_s", "floor_latency_s.p50"),
    ("floor_latency_p99_s", "floor_latency_s.p99"),
    ("operator_cpu_s", "operator_cpu_s"),
    ("t_peer_s", "t_peer_s"),
    ("peer_ratio", "peer_ratio"),
    ("peer_t_ready_s", "peer_t_ready_s"),
    ("peer_rss_peak_mb", "peer_rss_mb.peak"),
    ("peer_writes_per_resource", "peer_writes_per_resource"),
    ("restart_verified_s", "restart.t_verified_s"),
    ("restart_writes", "restart.writes"),
    ("restart_rss_mb", "restart.rss_mb"),
    ("edit_p50_s", "churn.latency_s.p50"),
    ("edit_p99_s", "churn.latency_s.p99"),
    ("floor_edit_p50_s", "floor_churn.latency_s.p50"),
    ("floor_edit_p99_s", "floor_churn.latency_s.p99"),
)


def lookup(run: dict[str, Any], path: str) -> float | None:
    node: Any = run
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def spread(values: Iterable[float]) -> dict[str, float | int]:
    """Median, min and max of one figure over the rounds, and how many rounds had it."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("spread of no values")
    return {
        "median": round(statistics.median(ordered), 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "runs": len(ordered),
    }


def by_verb_and_kind(rows: list[dict[str, float]]) -> dict[str, float]:
    """The median per row (`VERB resource`) over the rounds; a round without a row counts it as 0."""
    labels = sorted({label for row in rows for label in row})
    medians = {label: round(statistics.median(row.get(label, 0.0) for row in rows), 3) for label in labels}
    return dict(sorted(medians.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize_n(runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures = {}
    for key, path in FIGURES:
        values = [v for run in runs if (v := lookup(run, path)) is not None]
        if values:
            figures[key] = spread(values)
    writes: dict[str, dict[str, float]] = {
        "operator": by_verb_and_kind([run["requests_per_resource"]["operator_writes"] for run in runs])
    }
    if all("peer_writes" in run for run in runs):
        writes["peer"] = by_verb_and_kind([run["peer_writes"] for run in runs])
    return {"runs": len(runs), "figures": figures, "writes_by_verb_and_kind": writes}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """{N (as a string, for JSON): its summary}, in the order the sizes ran."""
    sizes: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        sizes.setdefault(int(run["n"]), []).append(run)
    return {str(n): summarize_n(rounds) for n, rounds in sizes.items()}
