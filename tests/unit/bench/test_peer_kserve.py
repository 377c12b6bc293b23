"""The peer half's pure parts: the InferenceService it creates, its Ready, which writes are the peer's, and the
tracker naming a KServe child by its parent's label."""

from __future__ import annotations

from collections import Counter

from bench import peer_kserve, workload
from bench.apimetrics import RequestKey
from bench.kube import Api
from bench.tracker import Tracker


def test_the_peer_gets_the_same_work_as_the_operator() -> None:
    ours = workload.inference_deployment("m00001")["spec"]
    theirs = peer_kserve.inference_service("m00001")
    predictor = theirs["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "hf://" + ours["model"]["name"]
    assert predictor["minReplicas"] == ours["replicas"]
    size = predictor["model"]["resources"]["requests"]
    assert (size["cpu"], size["memory"]) == (ours["resources"]["cpu"], ours["resources"]["memory"])
    # Deployment and Service only: no HPA, which the operator does not make either.
    assert theirs["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"


def test_ready_is_the_ready_condition() -> None:
    def isvc(status: str) -> dict[str, object]:
        return {
            "status": {
                "conditions": [{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": status}]
            }
        }

    assert peer_kserve.isvc_ready(isvc("True"))
    assert not peer_kserve.isvc_ready(isvc("False"))
    assert not peer_kserve.isvc_ready({})


def test_only_the_peers_own_writes_are_counted() -> None:
    requests = Counter(
        {
            RequestKey("PUT", "serving.kserve.io", "inferenceservices", "status"): 40,
            RequestKey("POST", "apps", "deployments", ""): 20,
            RequestKey("PUT", "apps", "deployments", "status"): 60,  # the Deployment controller's
            RequestKey("POST", "", "services", ""): 20,
            RequestKey("POST", "", "pods", ""): 20,  # the ReplicaSet controller's
            RequestKey("GET", "apps", "deployments", ""): 99,  # a read
        }
    )
    writes = peer_kserve.peer_writes(requests, events=20)
    assert sum(writes.values()) == 40 + 20 + 20 + 20
    assert RequestKey("PUT", "apps", "deployments", "status") not in writes


def test_the_tracker_names_a_kserve_child_by_its_parents_label() -> None:
    tracker = Tracker(Api.__new__(Api), "ns", ["m00001"], peer_kserve.INFERENCE_SERVICES)
    child = {"metadata": {"name": "m00001-predictor", "labels": {peer_kserve.PARENT_LABEL: "m00001"}}}
    assert tracker._on_deployment(child) == "m00001"
    assert tracker._on_service(child) == "m00001"
    tracker.progress.check("m00001")
    tracker.progress.check(
        tracker._on_infd({"metadata": {"name": "m00001", "generation": 2}, "status": {"observedGeneration": 1}})
    )
    assert tracker.progress.converged() == {}
    tracker.progress.check(
        tracker._on_infd({"metadata": {"name": "m00001", "generation": 2}, "status": {"observedGeneration": 2}})
    )
    assert set(tracker.progress.converged()) == {"m00001"}
    assert tracker.subject.path("ns") == "/apis/serving.kserve.io/v1beta1/namespaces/ns/inferenceservices"
