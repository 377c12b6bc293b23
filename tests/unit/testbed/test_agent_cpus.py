"""The node agent's CPU sets (testbed/agent/cpus.py): each pod gets the cores its CPU request asks for, the least
used first, so that two vLLM pods on a 2-core host do not both pin themselves to core 0."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "testbed"))

from agent.cpus import CpuSets, cores_requested, cpu_quantity


def test_cpu_quantities() -> None:
    assert cpu_quantity("500m") == 0.5
    assert cpu_quantity("2") == 2.0
    assert cpu_quantity(1.5) == 1.5
    with pytest.raises(ValueError):
        cpu_quantity("lots")


def test_cores_requested_rounds_the_pods_requests_up() -> None:
    def c(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, object]:
        return {"resources": {"requests": requests or {}, "limits": limits or {}}}

    assert cores_requested([]) == 1
    assert cores_requested([c({"cpu": "1"})]) == 1
    assert cores_requested([c({"cpu": "1"}), c({"cpu": "100m"})]) == 2
    assert cores_requested([c({"cpu": "250m"})]) == 1
    assert cores_requested([c(limits={"cpu": "3"})]) == 3  # only a limit: the request defaults to it
    assert cores_requested([c({"memory": "1Gi"})]) == 1


def test_pods_get_the_least_used_cores_and_give_them_back() -> None:
    sets = CpuSets([0, 1])
    assert sets.assign("a", 1) == [0]
    assert sets.assign("b", 1) == [1]
    assert sets.assign("c", 1) == [0]  # both used once: the lowest
    assert sets.assign("a", 1) == [0]  # asked again: the same set
    sets.release("b")
    assert sets.assign("d", 1) == [1]
    assert sets.assign("e", 5) == [0, 1]  # more than the host has: all of them
    assert sets.in_use() == {"a": [0], "c": [0], "d": [1], "e": [0, 1]}
    sets.release("unknown")  # nothing to release is no error
