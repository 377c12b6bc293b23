"""Restart at scale reads "verified" from the operator's own /metrics: the fleet gauge's sum is the number of resources
reconciled to the end since the process started. No API request, no write."""

from __future__ import annotations

import asyncio

import aiohttp
from bench import restart
from prometheus_client import generate_latest, start_http_server

from inference_operator.metrics import operator as metrics
from inference_operator.metrics.fleet_gauges import Fleet
from tests.support.cluster import free_port


def exposed() -> int:
    text = generate_latest(metrics.REGISTRY.restricted_registry([restart.FLEET_GAUGE])).decode()
    return restart.verified_count(text)


def test_the_count_is_the_resources_reconciled_since_start() -> None:
    # The process has one Fleet, and it publishes its whole count (set_fleet): another test's Fleet in this
    # registry is replaced by this one's first publish, so the figures are absolute.
    fleet = Fleet()
    fleet.resource("restart-test", "a", "Ready", "vllm", True)
    fleet.resource("restart-test", "b", "Deploying", None, False)
    fleet.resource("restart-test", "c", "Suspended", None, False)
    fleet.resource("restart-test", "a", "Ready", "vllm", True)  # reconciled again: still one resource
    assert exposed() == 3
    fleet.resource("restart-test", "b", None, None, False)  # deleted
    assert exposed() == 2
    fleet.resource("restart-test", "a", None, None, False)
    fleet.resource("restart-test", "c", None, None, False)
    assert exposed() == 0


def test_only_the_fleet_gauge_is_summed() -> None:
    text = "\n".join(
        [
            "# HELP inference_operator_inference_deployments InferenceDeployments by phase",
            'inference_operator_inference_deployments{engine="vllm",phase="Ready"} 7.0',
            'inference_operator_inference_deployments{engine="none",phase="Deploying"} 2.0',
            'inference_operator_inference_deployment_ready{engine="vllm",name="m",namespace="n"} 1.0',
            'inference_operator_reconciles_total{kind="InferenceDeployment",result="success"} 40.0',
        ]
    )
    assert restart.verified_count(text) == 9
    assert restart.verified_count("") == 0


def test_the_bench_reads_it_from_a_metrics_endpoint_asking_for_that_gauge_alone() -> None:
    port = free_port()
    server, thread = start_http_server(port, registry=metrics.REGISTRY)
    try:
        fleet = Fleet()
        fleet.resource("restart-http", "a", "Ready", "vllm", True)

        async def read() -> tuple[int | None, str]:
            async with aiohttp.ClientSession() as session:
                count = await restart.read_verified(session, port)
                url = f"http://127.0.0.1:{port}/metrics"
                async with session.get(url, params={"name[]": restart.FLEET_GAUGE}) as resp:
                    return count, await resp.text()

        count, text = asyncio.run(read())
        assert count == 1  # this Fleet's one resource (see above)
        assert "inference_operator_inference_deployment_ready" not in text  # one series per object: not asked for
        fleet.resource("restart-http", "a", None, None, False)
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_a_closed_port_reads_as_not_serving_yet() -> None:
    async def read() -> int | None:
        async with aiohttp.ClientSession() as session:
            return await restart.read_verified(session, free_port())

    assert asyncio.run(read()) is None
