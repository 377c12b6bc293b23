"""Edits under churn: each edit's latency from its response to observedGeneration and the Deployment's new template."""

from __future__ import annotations

import random

import pytest
from bench import churn
from bench.edits import EditLog
from bench.floor import needs_work
from bench.workload import inference_deployment

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.render.vllm import render_vllm_deployment


def test_an_edit_is_done_when_status_and_template_both_caught_up() -> None:
    log = EditLog()
    edit = log.begin("m1", deployment_generation=1, now=10.0)
    log.answered(edit, generation=2, now=10.1)
    log.on_status("m1", 2, now=10.4)
    assert log.pending and not log.done  # the Deployment has not moved yet
    log.on_deployment("m1", 2, now=10.6)
    assert not log.pending
    assert log.latencies() == [pytest.approx(0.5)]


def test_a_status_of_an_older_generation_or_an_unchanged_deployment_does_not_count() -> None:
    log = EditLog()
    edit = log.begin("m1", deployment_generation=3, now=0.0)
    log.answered(edit, generation=5, now=1.0)
    log.on_status("m1", 4, now=2.0)
    log.on_deployment("m1", 3, now=2.0)  # a status update of the Deployment: same generation
    assert log.pending and log.latencies() == []
    log.on_deployment("m1", 4, now=3.0)
    log.on_status("m1", 5, now=4.0)
    assert log.latencies() == [pytest.approx(3.0)]


def test_watch_events_ahead_of_the_response_end_the_edit_when_it_is_answered() -> None:
    log = EditLog()
    edit = log.begin("m1", deployment_generation=1, now=0.0)
    log.on_deployment("m1", 2, now=0.2)
    log.on_status("m1", 2, now=0.3)
    assert not log.done  # not answered yet: its generation is unknown
    log.answered(edit, generation=2, now=0.4)
    assert log.latencies() == [0.0]


def test_one_edit_in_flight_per_resource_and_refusals_are_counted_apart() -> None:
    log = EditLog()
    edit = log.begin("m1", 1, 0.0)
    with pytest.raises(ValueError, match="m1"):
        log.begin("m1", 1, 0.1)
    log.refused(edit)
    assert log.failed == 1 and not log.pending
    log.begin("m1", 1, 0.2)  # free again


def test_edits_go_to_resources_with_none_in_flight() -> None:
    rng = random.Random(1)
    names = ["a", "b", "c"]
    busy = {"a": object(), "b": object()}
    assert all(churn.pick(rng, names, busy) == "c" for _ in range(20))  # type: ignore[arg-type]
    assert churn.pick(rng, names, {n: object() for n in names}) is None  # type: ignore[misc]


def test_the_edit_changes_what_the_render_passes_to_the_pod_template() -> None:
    body = inference_deployment("m00001")
    body["metadata"] |= {"namespace": "ns", "generation": 1, "uid": "u-1"}
    before = render_vllm_deployment(InferenceDeployment.model_validate(body))
    body["spec"]["engine"] |= churn.edit_patch(7)["spec"]["engine"]
    after = render_vllm_deployment(InferenceDeployment.model_validate(body))
    env = after["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": churn.EDIT_ENV, "value": "7"} in env
    assert before["spec"]["template"] != after["spec"]["template"]
    assert churn.Churn(rate=10, seconds=300).edits == 3000


def test_the_floor_serves_each_new_resource_and_each_edit_once() -> None:
    def event(kind: str, generation: int, observed: int | None) -> dict[str, object]:
        status = {} if observed is None else {"observedGeneration": observed}
        return {"type": kind, "object": {"metadata": {"name": "m1", "generation": generation}, "status": status}}

    handled: set[tuple[str, int]] = set()
    assert needs_work(event("ADDED", 1, None), handled)
    assert not needs_work(event("MODIFIED", 1, None), handled)  # the same generation again
    assert not needs_work(event("MODIFIED", 1, 1), handled)  # the floor's own status patch
    assert needs_work(event("MODIFIED", 2, 1), handled)  # an edit
    assert not needs_work(event("DELETED", 3, 1), handled)
