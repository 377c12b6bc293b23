"""The floor: what the API server needs for a fleet, done by a bare client with the operator's concurrency.

`python -m bench.floor` runs as its own process in place of the operator (the bench creates and times the
resources exactly as in the operator's half). It watches the namespace's InferenceDeployments and, for each
new one, makes exactly the writes the operator makes on its way to convergence and nothing else: the
Deployment and the Service rendered by the operator's own pure functions and applied server-side with its
field manager, then its status (computed by the operator's own pure status function) as one merge patch.
No reads, no Events, no bookkeeping: no operator can do less.
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


async def floor_workers(api: Api, created: asyncio.Queue[dict[str, Any]], workers: int, total: int) -> None:
    """`workers` loops, as kopf's thread pool has, each taking the next created resource."""
    remaining = [total]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await converge_one(api, await created.get())

    await asyncio.gather(*(worker() for _ in range(workers)))


async def serve(kubeconfig: Path, namespace: str, count: int, workers: int) -> dict[str, Any]:
    """Converge the next `count` InferenceDeployments of a namespace; returns the requests it made."""
    api = Api(load_endpoint(kubeconfig))
    created: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    listed = asyncio.Event()

    async def watch() -> None:
        async for event in api.watch(infd_path(namespace)):
            if event["type"] == "LISTED":
                listed.set()
            elif event["type"] == "ADDED":
                await created.put(event["object"])

    watcher = asyncio.create_task(watch())
    try:
        await listed.wait()
        print("floor: watching", flush=True)  # the bench starts creating on this line
        await floor_workers(api, created, workers, count)
    finally:
        watcher.cancel()
        await api.close()
    writes = {k.label(): v for k, v in api.own.items() if k.write}
    return {"writes": writes, "cpu_s": round(time.process_time(), 3)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(serve(args.kubeconfig, args.namespace, args.count, args.workers))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
