"""The fleet benchmark's harness at N = 20 on the session's test bed: it runs end to end and produces its figures.

Only that the figures exist and are numbers of the right sign is asserted, never a timing: timings belong to
`make bench` and docs/benchmarks.md, on a test bed of the benchmark's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.cluster import REPO, Cluster

N = 20
POSITIVE = ("t_operator_s", "t_floor_s", "ratio", "operator_writes_per_resource", "floor_writes_per_resource")


def run_bench(cluster: Cluster, out: Path) -> dict[str, Any]:
    cmd = [
        sys.executable, "-m", "bench.fleet",
        "--kubeconfig", str(cluster.kubeconfig),
        "--sizes", str(N),
        "--idle-seconds", "5",
        "--settle-seconds", "1",
        "--output", str(out / "latest.json"),
        "--plots-dir", str(out),
        "--no-docs",
        "--label", "ci-smoke",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"bench failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result: dict[str, Any] = json.loads((out / "latest.json").read_text())
    return result


def test_bench_harness_produces_its_figures(cluster: Cluster, tmp_path: Path) -> None:
    result = run_bench(cluster, tmp_path)
    assert {"date", "label", "command", "machine", "settings", "runs"} <= result.keys()
    assert result["machine"]["nproc"] > 0 and result["machine"]["kubernetes"].startswith("v")
    (run,) = result["runs"]
    assert run["n"] == N
    for key in POSITIVE:
        assert isinstance(run[key], int | float) and run[key] > 0, (key, run[key])
    assert set(run["latency_s"]) == {"p50", "p90", "p99", "max"}
    assert all(v > 0 for v in run["latency_s"].values()), run["latency_s"]
    assert len(run["latencies_ms"]) == N and len(run["floor_latencies_ms"]) == N
    assert all(run["rss_mb"][k] > 0 for k in ("converged", "idle", "peak")), run["rss_mb"]
    assert run["requests_per_resource"]["operator_writes"], "no operator writes counted from /metrics"
    assert run["requests_per_resource"]["all_but_bench"], "no requests counted from /metrics"
    idle = run["idle"]
    assert idle["seconds"] == 5 and idle["operator_writes_per_minute"] >= 0 and idle["all_writes_per_minute"] >= 0
    png = tmp_path / f"latency-{N}.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
