"""The fleet gauges follow resources as they change phase, appear and go, counted without a pass over the fleet."""

from __future__ import annotations

from inference_operator.metrics import operator as metrics
from inference_operator.metrics.fleet_gauges import Fleet

GAUGE = metrics.PREFIX + "inference_deployments"


def count(phase: str, engine: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(GAUGE, {"phase": phase, "engine": engine})


def test_phase_counts_follow_changes() -> None:
    fleet = Fleet()
    fleet.resource("fleet-test", "a", "Deploying", None, False)
    fleet.resource("fleet-test", "b", "Deploying", None, False)
    assert count("Deploying", "none") == 2
    fleet.resource("fleet-test", "a", "Ready", "vllm", True)
    fleet.resource("fleet-test", "a", "Ready", "vllm", True)  # unchanged: counted once
    assert count("Deploying", "none") == 1 and count("Ready", "vllm") == 1
    fleet.resource("fleet-test", "b", None, None, False)
    fleet.resource("fleet-test", "a", None, None, False)
    assert count("Deploying", "none") == 0 and count("Ready", "vllm") == 0
    assert fleet.known() == []
