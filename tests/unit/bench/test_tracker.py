"""The tracker's books at scale: convergence and Ready counted one name at a time (no pass over the fleet)."""

from __future__ import annotations

from bench.kube import Api
from bench.tracker import Tracker


def infd(name: str, generation: int, observed: int, phase: str = "Deploying") -> dict[str, object]:
    return {
        "metadata": {"name": name, "generation": generation},
        "status": {"observedGeneration": observed, "phase": phase},
    }


def test_all_done_and_all_ready_are_set_by_the_last_name_only() -> None:
    names = [f"m{i}" for i in range(3)]
    tracker = Tracker(Api.__new__(Api), "ns", names)
    p = tracker.progress
    for name in names:
        for handle in (tracker._on_deployment, tracker._on_service):
            p.check(handle({"metadata": {"name": name, "labels": {}}}))
    for name in names[:2]:
        p.check(tracker._on_infd(infd(name, 1, 1, "Ready")))
    assert len(p.converged()) == 2 and not p.all_done.is_set() and not p.all_ready.is_set()
    p.check(tracker._on_infd(infd("m2", 1, 1)))
    assert p.all_done.is_set() and not p.all_ready.is_set()
    p.check(tracker._on_infd(infd("m2", 1, 1, "Ready")))
    p.check(tracker._on_infd(infd("m2", 1, 1, "Ready")))  # a second Ready event counts once
    assert p.all_ready.is_set() and p._ready_count == 3


def test_a_name_outside_the_fleet_is_not_counted() -> None:
    tracker = Tracker(Api.__new__(Api), "ns", ["m0"])
    p = tracker.progress
    for handle in (tracker._on_deployment, tracker._on_service):
        p.check(handle({"metadata": {"name": "other", "labels": {}}}))
    p.check(tracker._on_infd(infd("other", 1, 1, "Ready")))
    assert p.converged() == {} and p._ready_count == 0


def test_the_deployments_generation_is_kept_for_the_edits() -> None:
    tracker = Tracker(Api.__new__(Api), "ns", ["m0"])
    tracker._on_deployment({"metadata": {"name": "m0-vllm", "generation": 3, "labels": {"x": "y"}}})
    tracker._on_deployment({"metadata": {"name": "m0", "generation": 4}})
    assert tracker.progress.deployment_generation["m0"] == 4
