"""`python -m bench.fleet`: the fleet benchmark (`make bench`; methodology and results in docs/benchmarks.md).

For each N: the operator converges N InferenceDeployments while the bench times them; then a bare client
with the operator's concurrency does the same writes for N others (the floor). By default on a test bed of
its own, started and stopped here; `--kubeconfig` uses a running cluster instead (the CI smoke test does).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.metadata
import itertools
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kopf

from inference_operator import GROUP, VERSION
from inference_operator.runtime.kopf_settings import configure

from . import bed, report
from .churn import Churn
from .kube import Api, ApiError, load_endpoint
from .measure import delete_namespace
from .rounds import RoundConfig, run_round, write_figures
from .summary import summarize
from .workload import INFD_PLURAL

RESULTS = bed.REPO / "bench" / "results"


def operator_workers() -> int:
    """kopf's max_workers as the operator sets it (runner.configure): the floor gets as many."""
    settings = kopf.OperatorSettings()
    configure(settings, None)
    workers = settings.execution.max_workers
    assert workers, "runner.configure sets kopf's max_workers"
    return int(workers)


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "100,1000"), help="comma-separated N")
    parser.add_argument("--idle-seconds", type=float, default=_env_float("BENCH_IDLE_SECONDS", 120))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT") or 1), help="rounds per N")
    parser.add_argument("--restart", action="store_true", help="SIGKILL and restart the steady operator, timed")
    parser.add_argument("--churn-rate", type=float, default=0.0, help="spec edits per second with the fleet steady")
    parser.add_argument("--churn-seconds", type=float, default=300.0, help="how long the churn lasts")
    parser.add_argument("--settle-seconds", type=float, default=5.0, help="quiet time after all are Ready")
    parser.add_argument("--create-concurrency", type=int, default=0, help="creates in flight (default: workers)")
    parser.add_argument("--timeout", type=float, default=0, help="per phase (default: 120 s + 1 s per resource)")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=os.environ.get("BENCH_KUBECONFIG") or None,
        help="use this running cluster (admin) instead of starting the bench's own test bed",
    )
    parser.add_argument("--keep-testbed", action="store_true", help="leave the bench's test bed running")
    parser.add_argument(
        "--bed-per-half", action="store_true", help="a fresh bed for each half: none runs beside another's fleet"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--plots-dir", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=bed.REPO / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true", help="do not append rows to docs/benchmarks.md")
    parser.add_argument("--label", default=os.environ.get("BENCH_LABEL", ""), help="what this run measures")
    parser.add_argument("--profile", action="store_true", help="sample the operator with py-spy")
    parser.add_argument(
        "--peer",
        choices=("none", "kserve"),
        default=os.environ.get("BENCH_PEER", "none"),
        help="also time a peer on the same work (kserve: build it with bench/peer/kserve/build.sh)",
    )
    return parser.parse_args(argv)


def _git_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=bed.REPO, capture_output=True, text=True, check=False).stdout.strip()

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    return rev + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine(kubernetes_version: str) -> dict[str, Any]:
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "kopf": importlib.metadata.version("kopf"),
        "kubernetes": kubernetes_version,
        "revision": _git_revision(),
    }


async def wait_nodes_ready(api: Api, count: int, timeout: float = 120) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        nodes = await api.request("GET", "/api/v1/nodes", query={"labelSelector": f"{bed.POOL_LABEL}={bed.BENCH_POOL}"})
        ready = [
            n
            for n in nodes["items"]
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in (n.get("status") or {}).get("conditions", [])
            )
        ]
        if len(ready) >= count:
            return
        await asyncio.sleep(1)
    raise RuntimeError(f"the bench's {count} nodes were not Ready in {timeout:.0f}s")


async def clear_leftovers(api: Api) -> None:
    """A kept test bed may still be deleting an earlier run's namespaces: their deletes would be counted."""
    listing = await api.request("GET", "/api/v1/namespaces")
    leftovers = [ns["metadata"]["name"] for ns in listing["items"] if ns["metadata"]["name"].startswith("bench-")]
    for name in leftovers:
        await delete_namespace(api, name, wait=600)


async def add_nodes(api: Api, count: int) -> None:
    await bed.add_bench_nodes(api, count)
    await wait_nodes_ready(api, count)


async def wait_served(api: Api, timeout: float = 120) -> None:
    """Until the InferenceDeployments' storage answers: on a fresh bed it says 429 "storage is (re)initializing"
    for a while after the CRD is Established, and a floor process starting then would fail its first list."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await api.request("GET", f"/apis/{GROUP}/{VERSION}/{INFD_PLURAL}", query={"limit": "1"})
            return
        except ApiError as exc:
            if exc.status != 429 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(1)


async def replace_bed(api: Api, nodes: int) -> Api:
    """A fresh bench bed (empty etcd) with its nodes, in place of deleting the last round's namespaces."""
    started = time.monotonic()
    await api.close()
    kubeconfig = await asyncio.to_thread(bed.restart)
    fresh = Api(load_endpoint(kubeconfig))
    await add_nodes(fresh, nodes)
    await wait_served(fresh)
    print(f"bench: a fresh test bed for the next round or half in {time.monotonic() - started:.0f}s", flush=True)
    return fresh


def round_config(args: argparse.Namespace, workers: int, n: int, run_dir: Path, churn: Churn | None) -> RoundConfig:
    return RoundConfig(
        workers=workers,
        create_concurrency=args.create_concurrency or workers,
        idle_seconds=args.idle_seconds,
        settle_seconds=args.settle_seconds,
        timeout=args.timeout or 120 + n,
        workdir=run_dir,
        profile=args.profile,
        restart=args.restart,
        churn=churn,
    )


async def run(args: argparse.Namespace, kubeconfig: Path, own_bed: bool) -> dict[str, Any]:
    sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    workers = operator_workers()
    run_dir = bed.WORK_DIR / "runs" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    api = Api(load_endpoint(kubeconfig))
    beds = [api]  # the client of each bed in turn: a fresh bed per round (and per half) on the bench's own
    peer = bed.peer(args.peer) if args.peer != "none" else None
    nodes = bed.nodes_needed(max(sizes), halves=3 if peer else 2)
    try:
        version = (await api.request("GET", "/version"))["gitVersion"]
        if own_bed:
            await clear_leftovers(api)
            await add_nodes(api, nodes)
        runs = []
        churn = Churn(args.churn_rate, args.churn_seconds) if args.churn_rate > 0 else None
        rounds = list(itertools.product(sizes, range(args.repeat)))

        async def fresh() -> Api:
            beds.append(await replace_bed(beds[-1], nodes))
            return beds[-1]

        per_half = fresh if args.bed_per_half and own_bed else None
        for i, (n, k) in enumerate(rounds):  # operator, floor (and peer) halves interleaved, round after round
            cfg = round_config(args, workers, n, run_dir, churn)
            last = i == len(rounds) - 1
            if i > 0 and own_bed:
                await fresh()
            print(f"bench: N={n} round {k + 1}/{args.repeat}: operator, then floor ({workers} workers)", flush=True)
            # On a bed of its own the round leaves its namespaces: the next round gets a fresh bed.
            clean_up = not own_bed and not last
            # Each round is kept as each of its halves ends: a long invocation cut off later keeps what it ran.
            keep = run_dir / f"round-{n}-{k + 1}.json"
            result = await run_round(beds[-1], kubeconfig, n, cfg, clean_up, peer, keep, per_half)
            runs.append({"repeat": k + 1} | result)
            write_figures(keep, runs[-1])
    finally:
        await beds[-1].close()
    return {
        "schema": 2,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "label": args.label or machine(version)["revision"],
        "command": "make bench" if args.command_is_make else shlex.join(["python", "-m", "bench.fleet", *args.argv]),
        "machine": machine(version),
        "settings": {
            "workers": workers,
            "create_concurrency": args.create_concurrency or workers,
            "idle_seconds": args.idle_seconds,
            "own_testbed": own_bed,
            "bed_per_half": bool(args.bed_per_half and own_bed),
            "peer": args.peer,
            "repeat": args.repeat,
            "restart": args.restart,
            "churn": {"rate_per_s": churn.rate, "seconds": churn.seconds} if churn else None,
            "logs": str(run_dir.relative_to(bed.REPO)),
        },
        "runs": runs,
        "summary": summarize(runs),
    }


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    args.argv = raw
    args.command_is_make = os.environ.get("MAKELEVEL") is not None and not raw
    own_bed = args.kubeconfig is None
    kubeconfig = bed.up() if own_bed else Path(args.kubeconfig)
    try:
        bed.install_crds(kubeconfig)
        result = asyncio.run(run(args, kubeconfig, own_bed))
    finally:
        if own_bed and not args.keep_testbed:
            bed.down()
    report.print_table(result)
    report.write_json(result, args.output)
    for r in result["runs"]:
        report.plot_latency(r, args.plots_dir / f"latency-{r['n']}.png")
    if not args.no_docs:
        report.append_docs(result, args.docs)
    print(f"\nbench: wrote {args.output}, {args.plots_dir}/latency-N.png" + ("" if args.no_docs else f", {args.docs}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
