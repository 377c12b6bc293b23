"""The operator half's later phases on a fleet that is already there, then the floor's half beside it.

`python -m bench.fleet` runs a whole round in one process and writes its figures when the round ends. At
N = 10,000 on a 2-core machine one half takes most of an hour; when the bench process is gone before the end
(stopped, cut off) the test bed, the operator and their N resources are still up. This picks up from there:

    python -m bench.steady --kubeconfig .testbed-bench/bed/kubeconfigs/admin --namespace bench-10000-d33e-op \
        --count 10000 --operator-pid PID --restart --churn-rate 10 --churn-seconds 300 --floor \
        --output .testbed-bench/runs/<run>/steady-10000.json

1. waits (by the same tracker) until the N resources of the namespace have converged and are Ready;
2. reads their times back from the API: each resource's create, its children's creation and its Ready
   condition's `lastTransitionTime` (one-second resolution: the bench's own stamps were in the process that is
   gone), and the writes since the bed started from kube-apiserver's counters (valid on a bed that ran nothing
   but this fleet: the bench's N creates are subtracted, as it counted its own);
3. the idle window, the restart of the running operator (`--operator-pid`: SIGKILLed, then started again as
   the bench starts it) and the edits under churn, exactly as `bench/rounds.py` runs them;
4. with `--floor`, the floor's half in the round's floor namespace, with the same churn, the operator's fleet
   still there as in a round.
The figures so far are written to `--output` after each step.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inference_operator import GROUP

from . import apimetrics
from .apimetrics import RequestKey
from .churn import Churn, run_churn
from .fleet import operator_workers
from .kube import PARTIAL_METADATA_LIST, Api, ApiError, load_endpoint
from .measure import Scrape, between, make_namespace, percentiles, scrape
from .operator_proc import Operator, cpu_seconds, memory_mb
from .restart import restart_phase
from .rounds import RoundConfig, floor_half, idle_figures, operator_events, write_figures
from .tracker import Tracker
from .workload import INFD_PLURAL, deployment_path, infd_path, resource_name, service_path


def _running(pid: int) -> bool:
    """Not gone and not a zombie (not our child: we cannot reap it, and init may not at once)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class AdoptedOperator(Operator):
    """The operator process a bench started and left running: killed by pid, then started again as ours."""

    def __init__(self, kubeconfig: Path, namespace: str, log_path: Path, pid: int) -> None:
        super().__init__(kubeconfig, namespace, log_path)
        # 0, or a process already gone: nothing to kill, the restart phase only starts one on the steady fleet
        self.adopted: int | None = pid if pid and _running(pid) else None

    def kill(self) -> None:
        if self.adopted is None:
            super().kill()
            return
        os.kill(self.adopted, signal.SIGKILL)
        while _running(self.adopted):
            time.sleep(0.05)
        self.adopted = None

    def memory(self) -> tuple[float, float]:
        return memory_mb(self.adopted) if self.adopted is not None else super().memory()

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.adopted) if self.adopted is not None else super().cpu_seconds()


def stamp(value: str) -> float:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def ready_since(obj: dict[str, Any]) -> float | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True" and cond.get("lastTransitionTime"):
            return stamp(cond["lastTransitionTime"])
    return None


def times_from_objects(
    parents: list[dict[str, Any]], children: list[dict[str, Any]], parent_label: str
) -> dict[str, Any]:
    """T to the last child, T to the last Ready and per-resource latency to its last child, from the API's
    timestamps (whole seconds)."""
    created = {p["metadata"]["name"]: stamp(p["metadata"]["creationTimestamp"]) for p in parents}
    last_child: dict[str, float] = {}
    for child in children:
        meta = child["metadata"]
        parent = str((meta.get("labels") or {}).get(parent_label) or "")
        if parent in created:
            last_child[parent] = max(last_child.get(parent, 0.0), stamp(meta["creationTimestamp"]))
    ready = [t for t in (ready_since(p) for p in parents) if t is not None]
    t0 = min(created.values())
    latencies = sorted(last_child[name] - created[name] for name in last_child)
    return {
        "resolution_s": 1,
        "t_children_s": max(last_child.values()) - t0 if last_child else None,
        "t_ready_s": max(ready) - t0 if len(ready) == len(parents) else None,
        "latency_to_children_s": percentiles(latencies),
    }


async def list_json(api: Api, path: str, metadata_only: bool = False) -> list[dict[str, Any]]:
    accept = PARTIAL_METADATA_LIST if metadata_only else "application/json"
    listing = await api._get_json(path, accept, {})
    items: list[dict[str, Any]] = listing.get("items") or []
    return items


def since_bed_start(now: Scrape, creates: int) -> Counter[RequestKey]:
    """Everyone's requests since kube-apiserver started, the dead bench's `creates` creates taken out."""
    gone = Counter({RequestKey("POST", GROUP, INFD_PLURAL, ""): creates})
    return between(Scrape(Counter(), Counter()), now) - gone


async def idle_window(api: Api, ns: str, settled: Scrape, settled_events: int, seconds: float) -> dict[str, Any]:
    """Nothing for `seconds`, then the writes meanwhile as a round reports them."""
    await asyncio.sleep(seconds)
    idle_scrape, idle_events = await scrape(api), await operator_events(api, ns)
    return idle_figures(between(settled, idle_scrape), idle_events - settled_events, seconds)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    kubeconfig = Path(args.kubeconfig).resolve()  # the operator's working directory is the run's
    api = Api(load_endpoint(kubeconfig))
    ns, n = args.namespace, args.count
    names = [resource_name(i) for i in range(n)]
    workdir = args.output.parent
    operator = AdoptedOperator(kubeconfig, ns, workdir / f"operator-{n}-restarted.log", args.operator_pid)
    churn = Churn(args.churn_rate, args.churn_seconds) if args.churn_rate > 0 else None
    timeout = args.timeout or 120 + n
    result: dict[str, Any] = {"n": n, "namespace": ns, "picked_up_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    tracker = Tracker(api, ns, names)
    try:
        await tracker.start()
        for what, event in (("converged", tracker.progress.all_done), ("Ready", tracker.progress.all_ready)):
            if not await tracker.wait(event, timeout):
                raise RuntimeError(f"N={n}: not all {what} in {timeout:.0f}s")
        running = operator.adopted is not None
        if running:
            result["rss_mb_all_ready"], result["rss_hwm_mb"] = operator.memory()
        await asyncio.sleep(args.settle_seconds)
        parents = await list_json(api, infd_path(ns))
        children = await list_json(api, deployment_path(ns), True) + await list_json(api, service_path(ns), True)
        result |= times_from_objects(parents, children, tracker.subject.parent_label)
        settled, settled_events = await scrape(api), await operator_events(api, ns)
        lifecycle = apimetrics.operator_writes(since_bed_start(settled, n), settled_events)
        result["operator_writes_per_resource"] = round(sum(lifecycle.values()) / n, 3)
        result["operator_writes_by_verb_and_kind"] = apimetrics.per_resource(lifecycle, n)
        write_figures(args.output, result)
        if running and args.idle_seconds > 0:
            result["idle"] = await idle_window(api, ns, settled, settled_events, args.idle_seconds)
            rss, hwm = operator.memory()
            result["rss_mb"] = {"idle": round(rss, 1), "peak_hwm": round(hwm, 1)}
            result["operator_cpu_s"] = round(operator.cpu_seconds(), 2)
            write_figures(args.output, result)
        if args.restart:

            async def events() -> int:
                return await operator_events(api, ns)

            result["restart"] = await restart_phase(api, operator, n, events, args.settle_seconds, timeout)
            result["restart"]["rss_mb"] = round(operator.memory()[0], 1)
            write_figures(args.output, result)
        if churn is not None:
            result["churn"] = await run_churn(api, tracker, names, churn, timeout)
            result["churn"].pop("latencies_ms", None)
            write_figures(args.output, result)
    finally:
        await tracker.stop()
        if operator.adopted is None:
            await asyncio.to_thread(operator.stop)
    if args.floor:
        result["floor"] = await floor_beside(api, kubeconfig, args, names, churn, timeout)
        write_figures(args.output, result)
    await api.close()
    return result


async def floor_beside(
    api: Api, kubeconfig: Path, args: argparse.Namespace, names: list[str], churn: Churn | None, timeout: float
) -> dict[str, Any]:
    """The floor's half in the round's floor namespace, the operator's fleet still there as in a round."""
    floor_ns = args.namespace.removesuffix("-op") + "-floor"
    try:
        await make_namespace(api, floor_ns)
    except ApiError as exc:
        if exc.status != 409:  # the round made it already
            raise
    cfg = RoundConfig(
        workers=operator_workers(),
        create_concurrency=operator_workers(),
        idle_seconds=0,
        settle_seconds=args.settle_seconds,
        timeout=timeout,
        workdir=args.output.parent,
        profile=False,
        churn=churn,
    )
    floor = await floor_half(api, kubeconfig, floor_ns, names, cfg)
    floor.pop("floor_latencies_ms", None)
    (floor.get("floor_churn") or {}).pop("latencies_ms", None)
    return floor


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True, help="the round's operator namespace (…-op)")
    parser.add_argument("--count", type=int, required=True, help="N: the resources m00000… in it")
    parser.add_argument(
        "--operator-pid",
        type=int,
        required=True,
        help="the operator process left running (0: none is; the restart phase then only starts one)",
    )
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument("--settle-seconds", type=float, default=5.0)
    parser.add_argument("--restart", action="store_true")
    parser.add_argument("--churn-rate", type=float, default=0.0)
    parser.add_argument("--churn-seconds", type=float, default=300.0)
    parser.add_argument("--floor", action="store_true", help="then the floor's half in the round's floor namespace")
    parser.add_argument("--timeout", type=float, default=0, help="per phase (default: 120 s + 1 s per resource)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
