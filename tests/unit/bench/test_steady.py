"""Picking up a fleet the bench left: its times read back from the API's timestamps, and the writes since the bed
started without the bench's own creates."""

from __future__ import annotations

from collections import Counter

from bench import steady
from bench.apimetrics import RequestKey
from bench.measure import Scrape

from inference_operator import GROUP
from inference_operator.api.labels import LABEL_DEPLOYMENT

LABEL = LABEL_DEPLOYMENT


def parent(name: str, created: str, ready: str | None) -> dict[str, object]:
    conditions = [{"type": "Ready", "status": "True", "lastTransitionTime": ready}] if ready else []
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": {"conditions": conditions}}


def child(owner: str, created: str) -> dict[str, object]:
    return {"metadata": {"labels": {LABEL: owner}, "creationTimestamp": created}}


def test_times_run_from_the_first_create_to_the_last_child_and_the_last_ready() -> None:
    parents = [
        parent("a", "2026-12-03T06:00:00Z", "2026-12-03T06:00:30Z"),
        parent("b", "2026-12-03T06:00:10Z", "2026-12-03T06:01:00Z"),
    ]
    children = [
        child("a", "2026-12-03T06:00:02Z"),
        child("a", "2026-12-03T06:00:05Z"),  # the later child is the one that counts
        child("b", "2026-12-03T06:00:40Z"),
        child("someone-else", "2026-12-03T07:00:00Z"),  # not a parent of the fleet
    ]
    times = steady.times_from_objects(parents, children, LABEL)
    assert times["t_children_s"] == 40
    assert times["t_ready_s"] == 60
    assert times["latency_to_children_s"]["max"] == 30
    assert times["latency_to_children_s"]["p50"] == 17.5


def test_no_t_ready_while_one_is_not_ready() -> None:
    parents = [parent("a", "2026-12-03T06:00:00Z", "2026-12-03T06:00:30Z"), parent("b", "2026-12-03T06:00:10Z", None)]
    assert steady.times_from_objects(parents, [], LABEL)["t_ready_s"] is None


def test_the_writes_since_the_bed_started_leave_out_the_benchs_creates_and_its_own_requests() -> None:
    creates = RequestKey("POST", GROUP, "inferencedeployments", "")
    status = RequestKey("PATCH", GROUP, "inferencedeployments", "status")
    lists = RequestKey("LIST", GROUP, "inferencedeployments", "")
    now = Scrape(server=Counter({creates: 100, status: 200, lists: 5}), own=Counter({lists: 3}))
    assert steady.since_bed_start(now, 100) == Counter({status: 200, lists: 2})
