"""The floor: what the API server needs for a fleet, done by a bare client with the operator's concurrency.

`python -m bench.floor` runs as its own process in place of the operator (the bench creates and times the
resources exactly as in the operator's half). It watches the namespace's InferenceDeployments and, for each
new one, makes exactly the writes the operator makes on its way to convergence and nothing else: the
Deployment and the Service rendered by the operator's own pure functions and applied server-side with its
field manager, then its status (computed by the operator's own pure status function) as one merge patch.
No reads, no Events, no bookkeeping: no operator can do less.

Once the `count` new resources are done it prints its writes and CPU as one JSON line, then goes on serving
spec edits (a resource whose generation is past its status.observedGeneration) the same way, re-rendered
by the same functions, until it is stopped: the floor of the churn phase (bench/churn.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inference_operator.advisor.engine_choice import choose_engine
from inference_operator.api.inference_deployment import Engine, InferenceDeployment
from inference_operator.api.settings import DecisionSettings
from inference_operator.api.timestamps import utc_now
from inference_operator.controller.facts import DeploymentFacts, deployment_facts
from inference_operator.controller.inference_deployment.status import StatusInputs, compute_status
from inference_operator.controller.plan import plan_serving
from inference_operator.render.common import endpoint, serving_name
from inference_operator.render.service import render_service
from inference_operator.render.vllm import render_vllm_deployment

from .kube import Api, load_endpoint
from .workload import deployment_path, infd_path, service_path


def floor_status(infd: InferenceDeployment, deployment: dict[str, Any]) -> dict[str, Any]:
    """The status the operator writes for a resource whose Deployment was just applied."""
    choice = choose_engine(infd, DecisionSettings(), None)
    facts: dict[Engine, DeploymentFacts | None] = {Engine.VLLM: deployment_facts(deployment), Engine.TENSORRT_LLM: None}
    plan = plan_serving(infd, choice.selected, None, facts, None)
    observation = StatusInputs(plan, facts, None, None, endpoint(infd), choice.status)
    return compute_status(infd, observation, {}, utc_now())


async def converge_one(api: Api, body: dict[str, Any]) -> None:
    infd = InferenceDeployment.model_validate({k: v for k, v in body.items() if k != "status"})
    ns, name = infd.metadata["namespace"], infd.metadata["name"]
    deployment = await api.apply(deployment_path(ns, serving_name(infd, Engine.VLLM)), render_vllm_deployment(infd))
    await api.apply(service_path(ns, name), render_service(infd, Engine.VLLM))
    status = floor_status(infd, deployment)
    await api.request("PATCH", infd_path(ns, name, "status"), {"status": status}, "application/merge-patch+json")


async def floor_workers(api: Api, queue: asyncio.Queue[dict[str, Any]], workers: int, total: int | None) -> None:
    """`workers` loops, as kopf's thread pool has, each taking the next resource to converge (`total` of them;
    None: until cancelled)."""
    remaining = [total]

    async def worker() -> None:
        while remaining[0] is None or remaining[0] > 0:
            if remaining[0] is not None:
                remaining[0] -= 1
            await converge_one(api, await queue.get())

    await asyncio.gather(*(worker() for _ in range(workers)))


def needs_work(event: dict[str, Any], handled: set[tuple[str, int]]) -> bool:
    """A new resource, or a spec edit the status has not caught up with; each generation of a name once."""
    if event["type"] not in ("ADDED", "MODIFIED"):
        return False
    meta = event["object"]["metadata"]
    generation = int(meta.get("generation") or 0)
    observed = int((event["object"].get("status") or {}).get("observedGeneration") or 0)
    key = (str(meta["name"]), generation)
    if observed >= generation or key in handled:
        return False
    handled.add(key)
    return True


def own_writes(api: Api) -> dict[str, int]:
    return {k.label(): v for k, v in api.own.items() if k.write}


async def serve(kubeconfig: Path, namespace: str, count: int, workers: int) -> dict[str, Any]:
    """Converge the next `count` InferenceDeployments of a namespace and print the requests it made; then serve
    their edits until cancelled."""
    api = Api(load_endpoint(kubeconfig))
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    listed = asyncio.Event()
    handled: set[tuple[str, int]] = set()

    async def watch() -> None:
        async for event in api.watch(infd_path(namespace)):
            if event["type"] == "LISTED":
                listed.set()
            elif needs_work(event, handled):
                await queue.put(event["object"])

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait([watcher, asyncio.ensure_future(listed.wait())], return_when=asyncio.FIRST_COMPLETED)
        if watcher.done():
            watcher.result()  # its error, rather than waiting for a listing that will not come
        print("floor: watching", flush=True)  # the bench starts creating on this line
        await floor_workers(api, queue, workers, count)
        print(json.dumps({"writes": own_writes(api), "cpu_s": round(time.process_time(), 3)}), flush=True)
        await floor_workers(api, queue, workers, None)  # edits, until the bench stops this process
    finally:
        watcher.cancel()
        await api.close()
    return {"writes": own_writes(api), "cpu_s": round(time.process_time(), 3)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.kubeconfig, args.namespace, args.count, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
