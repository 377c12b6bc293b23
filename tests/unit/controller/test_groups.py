"""Multi-node groups: placed, stranded and held back (controller/groups.py), and a LeaderWorkerSet's facts."""

from __future__ import annotations

from typing import Any

from inference_operator.controller.facts import deployment_facts
from inference_operator.controller.groups import RETRY_FACTOR, GroupFacts, group_facts, held_back_message, plan_groups
from inference_operator.render.multinode import GROUP_INDEX_LABEL

NOW = "2026-12-01T12:10:00Z"
TIMEOUT = 300


def pod(group: int, node: str | None, unschedulable_since: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if unschedulable_since:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/9 nodes are available: 4 Insufficient nvidia.com/gpu.",
                "lastTransitionTime": unschedulable_since,
            }
        ]
    spec = {"nodeName": node} if node else {}
    return {"metadata": {"labels": {GROUP_INDEX_LABEL: str(group)}}, "spec": spec, "status": status}


def test_a_group_with_a_placed_leader_and_an_unplaceable_worker_is_stranded_after_the_timeout() -> None:
    pods = [pod(0, "n0"), pod(0, "n1"), pod(1, "n2"), pod(1, None, "2026-12-01T12:04:00Z")]
    assert group_facts(pods, 2, NOW, TIMEOUT) == GroupFacts(
        whole=1, stranded=1, waiting="0/9 nodes are available: 4 Insufficient nvidia.com/gpu."
    )
    recent = [*pods[:3], pod(1, None, "2026-12-01T12:09:00Z")]
    assert group_facts(recent, 2, NOW, TIMEOUT).stranded == 0  # still within its timeout


def test_a_group_with_nothing_placed_holds_nothing_and_is_left_to_wait() -> None:
    pods = [pod(0, "n0"), pod(0, "n1"), pod(1, None, "2026-12-01T11:00:00Z")]
    assert group_facts(pods, 2, NOW, TIMEOUT) == GroupFacts(whole=1, stranded=0, waiting=None)


def test_stranded_groups_are_removed_until_the_retry_then_asked_for_again() -> None:
    facts = GroupFacts(whole=1, stranded=1, waiting="no room")
    plan = plan_groups(2, facts, None, NOW, TIMEOUT)
    assert plan.replicas == 1
    assert plan.held_back is not None
    assert plan.held_back["retryAt"] == "2026-12-01T13:00:00Z"  # RETRY_FACTOR x 300 s later
    assert RETRY_FACTOR * TIMEOUT == 3000
    previous = {"heldBack": plan.held_back}
    kept = plan_groups(2, GroupFacts(whole=1, stranded=0, waiting=None), previous, "2026-12-01T12:30:00Z", TIMEOUT)
    assert (kept.replicas, kept.held_back) == (1, plan.held_back)
    retried = plan_groups(2, GroupFacts(whole=1, stranded=0, waiting=None), previous, "2026-12-01T13:00:01Z", TIMEOUT)
    assert (retried.replicas, retried.held_back) == (2, None)
    rescaled = plan_groups(3, GroupFacts(whole=1, stranded=0, waiting=None), previous, "2026-12-01T12:30:00Z", TIMEOUT)
    assert (rescaled.replicas, rescaled.held_back) == (3, None)  # a new replica count is a new question
    message = held_back_message(plan.held_back, TIMEOUT)
    assert "1 of 2 group could not be placed whole: no room" in message.replace("groups", "group")
    assert "spec.multiNode.placementTimeoutSeconds" in message and "2026-12-01T13:00:00Z" in message


def test_nothing_stranded_asks_for_every_group() -> None:
    assert plan_groups(2, GroupFacts(whole=0, stranded=0, waiting=None), None, NOW, TIMEOUT).replicas == 2
    assert plan_groups(2, None, None, NOW, TIMEOUT).replicas == 2


def test_a_leader_worker_set_counts_groups() -> None:
    lws: dict[str, Any] = {
        "kind": "LeaderWorkerSet",
        "metadata": {"name": "m-vllm", "generation": 3},
        "spec": {"replicas": 2},
        "status": {
            "replicas": 2,
            "readyReplicas": 1,
            "updatedReplicas": 2,
            "conditions": [
                {"type": "Available", "status": "True", "observedGeneration": 3},
                {"type": "UpdateInProgress", "status": "False", "observedGeneration": 3},
            ],
        },
    }
    facts = deployment_facts(lws)
    assert facts is not None
    assert (facts.desired, facts.replicas, facts.ready, facts.updated) == (2, 2, 1, 2)
    assert not facts.rolled_out and facts.serving
    lws["status"]["readyReplicas"] = 2
    assert deployment_facts(lws).rolled_out  # type: ignore[union-attr]
    lws["status"]["conditions"][1]["status"] = "True"  # a rolling update replaces groups one by one
    assert not deployment_facts(lws).rolled_out  # type: ignore[union-attr]
