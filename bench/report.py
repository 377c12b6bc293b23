"""What a run leaves behind: the console table, bench/results/latest.json, a row per N in docs/benchmarks.md, and
a PNG of each latency distribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt

# The issue's targets, shown next to each figure (never asserted: timings vary by machine).
TARGET_RATIO = 1.3
TARGET_RSS_MB = 150.0
TARGET_P99_S_AT_100 = 0.3


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}{unit}" if abs(value) < 100 else f"{value:.0f}{unit}"
    return f"{value}{unit}"


def table_rows(run: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, target) for one N."""
    n = run["n"]
    lat, floor = run["latency_s"], run["floor_latency_s"]
    return [
        ("T_operator", _fmt(run["t_operator_s"], " s"), ""),
        ("T_floor", _fmt(run["t_floor_s"], " s"), ""),
        ("ratio", _fmt(run["ratio"]), f"<= {TARGET_RATIO} at N=1000"),
        ("T_ready (all pods Ready, status Ready)", _fmt(run["t_ready_s"], " s"), ""),
        (
            "operator writes / resource (to Ready)",
            _fmt(run["operator_writes_per_resource"]),
            f"<= children + 1 = {run['children'] + 1}",
        ),
        ("operator writes / resource (to converged)", _fmt(run["operator_writes_per_resource_to_converged"]), ""),
        ("floor writes / resource", _fmt(run["floor_writes_per_resource"]), ""),
        ("operator writes / idle minute", _fmt(run["idle"]["operator_writes_per_minute"]), "0"),
        ("all writes / idle minute (leases, nodes)", _fmt(run["idle"]["all_writes_per_minute"]), ""),
        (
            "operator RSS converged / peak",
            f"{_fmt(run['rss_mb']['converged'])} / {_fmt(run['rss_mb']['peak'])} MB",
            f"<= {TARGET_RSS_MB:.0f} MB at N=1000",
        ),
        (
            "latency p50 / p99",
            f"{_fmt(lat.get('p50'), ' s')} / {_fmt(lat.get('p99'), ' s')}",
            f"p99 <= {TARGET_P99_S_AT_100} s at N=100" if n == 100 else "",
        ),
        ("CPU: operator / floor client", f"{_fmt(run['operator_cpu_s'], ' s')} / {_fmt(run['floor_cpu_s'], ' s')}", ""),
        ("floor latency p50 / p99", f"{_fmt(floor.get('p50'), ' s')} / {_fmt(floor.get('p99'), ' s')}", ""),
    ]


def print_table(result: dict[str, Any]) -> None:
    for run in result["runs"]:
        rows = table_rows(run)
        width = max(len(r[0]) for r in rows)
        print(f"\nN = {run['n']}")
        for name, value, target in rows:
            print(f"  {name:<{width}}  {value:<18} {target}")
        print("  operator writes per resource by verb and resource:")
        for key, value in run["requests_per_resource"]["operator_writes"].items():
            print(f"    {value:>8.3f}  {key}")
        print("  all requests per resource (everyone but the bench):")
        for key, value in list(run["requests_per_resource"]["all_but_bench"].items())[:14]:
            print(f"    {value:>8.3f}  {key}")
        idle = run["idle"]["writes_per_minute"]
        print("  writes per idle minute: " + (", ".join(f"{k} {v:g}" for k, v in idle.items()) or "none"))
        if "t_peer_s" in run:
            print_peer(run)
        print_steady(run)
    for n, summary in (result.get("summary") or {}).items():
        print_summary(int(n), summary)


def print_steady(run: dict[str, Any]) -> None:
    """The restart and the edits under churn of one round, where they ran."""
    if "restart" in run:
        r = run["restart"]
        rows = ", ".join(f"{k} {v:g}" for k, v in r["writes_by_verb_and_kind"].items())
        print(
            f"  restart (SIGKILL, start): alive {_fmt(r['t_alive_s'], ' s')}, all {run['n']} verified "
            f"{_fmt(r['t_verified_s'], ' s')} ({r['verified']} counted), writes meanwhile {r['writes']}"
            + (f" ({rows})" if rows else "")
        )
        reads = ", ".join(f"{k} {v:g}" for k, v in (r.get("reads_by_verb_and_kind") or {}).items())
        print(f"  restart reads of the fleet's kinds: {reads or 'none'}")
    for key, who in (("churn", "operator"), ("floor_churn", "floor")):
        if key in run:
            c, lat = run[key], run[key]["latency_s"]
            print(
                f"  edits, {who}: {c['sent']} sent at {c['rate_per_s']:g}/s, {c['landed']} landed, "
                f"{c['not_landed']} not, {c['refused']} refused; p50 / p99 {_fmt(lat.get('p50'), ' s')} / "
                f"{_fmt(lat.get('p99'), ' s')}"
            )


def spread_text(fig: dict[str, Any] | None) -> str:
    """`median (min-max)`; one round: the value alone."""
    if fig is None:
        return "-"
    if fig["runs"] == 1:
        return _fmt(fig["median"])
    return f"{_fmt(fig['median'])} ({_fmt(fig['min'])}-{_fmt(fig['max'])})"


def print_summary(n: int, summary: dict[str, Any]) -> None:
    figures = summary["figures"]
    print(f"\nN = {n}, {summary['runs']} round(s): median (min-max)")
    width = max(len(k) for k in figures)
    for key, fig in figures.items():
        print(f"  {key:<{width}}  {spread_text(fig)}")
    writes = summary["writes_by_verb_and_kind"]
    columns = list(writes)
    print("  writes per new resource to Ready, by verb and kind (median over rounds, kube-apiserver's counters):")
    print("    " + f"{'':<40}" + "".join(f"{c:>10}" for c in columns))
    labels = sorted({label for col in writes.values() for label in col})
    for label in labels:
        print("    " + f"{label:<40}" + "".join(f"{_fmt(writes[c].get(label)):>10}" for c in columns))
    print("    " + f"{'total':<40}" + "".join(f"{_fmt(round(sum(writes[c].values()), 3)):>10}" for c in columns))


def print_peer(run: dict[str, Any]) -> None:
    """The operator beside the peer on the same work: time to converge, memory, writes per resource."""
    rss, peer_rss = run["rss_mb"], run["peer_rss_mb"]
    lat, peer_lat = run["latency_s"], run["peer_latency_s"]
    print(f"  beside the peer, {run['peer']}:")
    print(f"    {'':<38}{'operator':>12}{'peer':>12}")
    rows = [
        ("time to converge, s", f"{run['t_operator_s']:.2f}", f"{run['t_peer_s']:.2f}"),
        ("time to Ready, s", _fmt(run["t_ready_s"]), _fmt(run["peer_t_ready_s"])),
        ("latency p50 / p99, s", f"{lat['p50']:.2f}/{lat['p99']:.2f}", f"{peer_lat['p50']:.2f}/{peer_lat['p99']:.2f}"),
        (
            "RSS converged / peak, MB",
            f"{rss['converged']:.0f}/{rss['peak']:.0f}",
            f"{peer_rss['converged']:.0f}/{peer_rss['peak']:.0f}",
        ),
        (
            "writes per resource to Ready",
            f"{run['operator_writes_per_resource']:.2f}",
            f"{run['peer_writes_per_resource']:.2f}",
        ),
        ("CPU, s", f"{run['operator_cpu_s']:.2f}", f"{run['peer_cpu_s']:.2f}"),
    ]
    for name, ours, theirs in rows:
        print(f"    {name:<38}{ours:>12}{theirs:>12}")
    print("    the peer's writes per resource: " + ", ".join(f"{k} {v:g}" for k, v in run["peer_writes"].items()))


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


DOCS_HEADER = (
    "| date | label | N | T_operator s | T_floor s | ratio | T_ready s | op writes/res to converged / to Ready | "
    "op writes/idle min | RSS MB conv/peak | p50/p99 ms | floor p50/p99 ms | machine | versions | command |"
)


def docs_rows(result: dict[str, Any]) -> list[str]:
    """One row per N: the median over its rounds with the spread in brackets (a single round: its value)."""
    m = result["machine"]
    machine = f"{m['nproc']} cores, {m['memory_gib']} GiB"
    versions = f"Python {m['python']}, kopf {m['kopf']}, k8s {m['kubernetes']}"
    rows = []
    for n, summary in result["summary"].items():
        f = summary["figures"]

        def ms(key: str, f: dict[str, Any] = f) -> str:
            return f"{f[key]['median'] * 1000:.0f}" if key in f else "-"

        label = result["label"] + (f", median of {summary['runs']}" if summary["runs"] > 1 else "")
        rows.append(
            f"| {result['date'][:16].replace('T', ' ')} | {label} | {n} | {spread_text(f.get('t_operator_s'))} | "
            f"{spread_text(f.get('t_floor_s'))} | {spread_text(f.get('ratio'))} | {spread_text(f.get('t_ready_s'))} | "
            f"{spread_text(f.get('writes_per_resource_to_converged'))} / {spread_text(f.get('writes_per_resource'))} | "
            f"{spread_text(f.get('idle_writes_per_minute'))} | "
            f"{spread_text(f.get('rss_converged_mb'))} / {spread_text(f.get('rss_peak_mb'))} | "
            f"{ms('latency_p50_s')}/{ms('latency_p99_s')} | {ms('floor_latency_p50_s')}/{ms('floor_latency_p99_s')} | "
            f"{machine} | {versions} | `{result['command']}` |"
        )
    return rows


def append_docs(result: dict[str, Any], path: Path) -> None:
    """Rows go at the end of the file, which ends with the results table (see docs/benchmarks.md)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n" + DOCS_HEADER + "\n|" + "---|" * 15 + "\n"
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + "\n".join(docs_rows(result)) + "\n")


def plot_latency(run: dict[str, Any], path: Path) -> None:
    """Histogram and CDF of create -> children latency, the operator's beside the floor's."""
    op = [x / 1000 for x in run["latencies_ms"]]
    floor = [x / 1000 for x in run["floor_latencies_ms"]]
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    top = max([*op, *floor, 0.001])
    bins = [top * i / 50 for i in range(51)]
    hist.hist(op, bins=bins, alpha=0.7, label=f"operator (p50 {run['latency_s']['p50']:.2f} s)", color="tab:blue")
    hist.hist(floor, bins=bins, alpha=0.6, label=f"floor (p50 {run['floor_latency_s']['p50']:.2f} s)", color="tab:gray")
    hist.set_xlabel("seconds from create to Deployment + Service + observedGeneration")
    hist.set_ylabel("resources")
    hist.legend()
    for values, label, color in ((op, "operator", "tab:blue"), (floor, "floor", "tab:gray")):
        ordered = sorted(values)
        cdf.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=label, color=color)
    p99 = run["latency_s"]["p99"]
    cdf.axvline(p99, color="tab:red", linestyle="--", linewidth=1, label=f"operator p99 {p99:.2f} s")
    cdf.set_xlabel("seconds")
    cdf.set_ylabel("fraction of resources converged")
    cdf.set_ylim(0, 1.01)
    cdf.legend(loc="lower right")
    cdf.grid(alpha=0.3)
    fig.suptitle(
        f"N = {run['n']}: T_operator {run['t_operator_s']:.1f} s, T_floor {run['t_floor_s']:.1f} s, "
        f"ratio {run['ratio']:.2f}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
