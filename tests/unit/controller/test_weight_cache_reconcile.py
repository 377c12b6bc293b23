"""The weight cache on an in-memory client: one entry and one Job for every resource of a key; no serving pod
until it is complete; a failed download is a condition and an Event while what serves keeps serving; eviction
removes only unused entries, oldest first, over the budget."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.controller.weight_cache.desired import entries_in_use, evictions
from inference_operator.controller.weight_cache.reconcile import reconcile_weight_cache
from inference_operator.render.weight_cache import LABEL_WEIGHT_CACHE, job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")


def resource(fake: FakeKube, name: str, revision: str = "main") -> None:
    body = sample_body("cpu-small")
    body["metadata"] = {**body["metadata"], "name": name, "uid": f"uid-{name}"}
    body["spec"]["model"]["revision"] = revision
    body["spec"]["model"]["cache"] = {"enabled": True, "size": "2Gi"}
    fake.put(body)


def entries(fake: FakeKube) -> list[dict[str, Any]]:
    return fake.list("WeightCache", NS, "")


def job_finishes(fake: FakeKube, entry: str, kind: str, exit_code: int = 0) -> None:
    job = fake.body("Job", NS, job_name(entry))
    job["status"] = {"conditions": [{"type": kind, "status": "True"}]}
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{entry}-pod", "namespace": NS, "labels": {LABEL_WEIGHT_CACHE: entry}},
            "status": {"containerStatuses": [{"state": {"terminated": {"exitCode": exit_code}}}]},
        }
    )


def reconcile_all(ctx: Context, fake: FakeKube, *names: str) -> None:
    for name in names:
        reconcile_inference_deployment(ctx, NS, name, LOG)
    for e in entries(fake):
        reconcile_weight_cache(ctx, NS, e["metadata"]["name"], LOG)
    for name in names:
        reconcile_inference_deployment(ctx, NS, name, LOG)


def test_two_resources_of_one_model_share_one_entry_and_one_job_and_wait_for_it() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=OperatorSettings())
    resource(fake, "a")
    resource(fake, "b")
    reconcile_all(ctx, fake, "a", "b")
    (entry,) = entries(fake)
    name = entry["metadata"]["name"]
    assert [w for w in fake.writes if w[1] == "Job"] == [("create", "Job", job_name(name))]
    assert fake.get("Deployment", NS, "a-vllm") is None  # nothing starts before the weights are there
    assert fake.body("InferenceDeployment", NS, "a")["status"]["weights"]["entry"] == name
    job_finishes(fake, name, "Complete")
    reconcile_all(ctx, fake, "a", "b")
    assert fake.body("WeightCache", NS, name)["status"]["phase"] == "Complete"
    for r in ("a", "b"):
        pod = fake.body("Deployment", NS, f"{r}-vllm")["spec"]["template"]["spec"]
        assert pod["containers"][0]["args"][0] == "/weights/model"
    assert [w for w in fake.writes if w[1] == "Job"] == [("create", "Job", job_name(name))]
    assert ("Normal", "WeightsCached", f"Serving from weight cache entry {name}") in fake.events


def test_a_failed_revision_is_a_condition_and_an_event_and_the_old_deployment_serves_on() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=OperatorSettings())
    resource(fake, "a")
    reconcile_all(ctx, fake, "a")
    old = entries(fake)[0]["metadata"]["name"]
    job_finishes(fake, old, "Complete")
    reconcile_all(ctx, fake, "a")
    serving = fake.body("Deployment", NS, "a-vllm")
    resource(fake, "a", revision="no-such-revision")
    reconcile_all(ctx, fake, "a")
    new = next(e["metadata"]["name"] for e in entries(fake) if e["metadata"]["name"] != old)
    job_finishes(fake, new, "Failed", exit_code=10)
    reconcile_all(ctx, fake, "a")
    weights = fake.body("InferenceDeployment", NS, "a")["status"]["weights"]
    assert (weights["phase"], weights["reason"]) == ("Failed", "RevisionNotFound")
    cond = next(
        c for c in fake.body("InferenceDeployment", NS, "a")["status"]["conditions"] if c["type"] == "WeightsCached"
    )
    assert (cond["status"], cond["reason"]) == ("False", "RevisionNotFound")
    assert "no-such-revision" in cond["message"] and "\n" not in cond["message"]
    assert any(e[0] == "Warning" and e[1] == "RevisionNotFound" for e in fake.events)
    assert fake.body("Deployment", NS, "a-vllm")["spec"] == serving["spec"]  # still the old entry's pods
    assert {e["metadata"]["name"] for e in entries(fake)} == {old, new}  # nothing lost


def test_eviction_over_the_budget_removes_only_unused_entries() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=dataclasses.replace(OperatorSettings(), weight_cache_budget="3Gi"))
    resource(fake, "a", revision="r1")
    reconcile_all(ctx, fake, "a")
    first = entries(fake)[0]["metadata"]["name"]
    job_finishes(fake, first, "Complete")
    reconcile_all(ctx, fake, "a")
    resource(fake, "a", revision="r2")  # r1's Deployment rolls over to r2 once r2 is complete
    reconcile_all(ctx, fake, "a")
    second = next(e["metadata"]["name"] for e in entries(fake) if e["metadata"]["name"] != first)
    assert {e["metadata"]["name"] for e in entries(fake)} == {first, second}  # r1 still mounted: kept
    job_finishes(fake, second, "Complete")
    reconcile_all(ctx, fake, "a")
    reconcile_weight_cache(ctx, NS, second, LOG)  # r1 unused now and 4Gi > 3Gi
    assert {e["metadata"]["name"] for e in entries(fake)} == {second}
    assert any(e[1] == "Evicted" and first in e[2] for e in fake.events)


def test_eviction_plan_is_oldest_first_and_skips_what_is_in_use() -> None:
    def e(name: str, when: str, size: str = "1Gi") -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": when}, "spec": {"size": size}}

    all_ = [e("new", "2026-01-03T00:00:00Z"), e("old", "2026-01-01T00:00:00Z"), e("mid", "2026-01-02T00:00:00Z")]
    assert [x["metadata"]["name"] for x in evictions(all_, set(), "2Gi")] == ["old"]
    assert [x["metadata"]["name"] for x in evictions(all_, {"old"}, "1Gi")] == ["mid", "new"]
    assert evictions(all_, set(), None) == []
    deployment = {"spec": {"template": {"metadata": {"labels": {LABEL_WEIGHT_CACHE: "old"}}}}}
    assert entries_in_use({"new"}, [deployment], ["new", "old", "mid"]) == {"new", "old"}


def test_a_resource_that_does_not_say_follows_the_operators_default_and_false_opts_out() -> None:
    fake = FakeKube()
    on = Context(kube=fake, settings=dataclasses.replace(OperatorSettings(), weight_cache_default=True))
    for name, cache in (("silent", None), ("out", {"enabled": False})):
        body = sample_body("cpu-small")
        body["metadata"] = {**body["metadata"], "name": name, "uid": f"uid-{name}"}
        if cache is not None:
            body["spec"]["model"]["cache"] = cache
        fake.put(body)
    reconcile_all(on, fake, "silent", "out")
    (entry,) = entries(fake)
    assert fake.body("InferenceDeployment", NS, "silent")["status"]["weights"]["entry"] == entry["metadata"]["name"]
    assert fake.get("Deployment", NS, "silent-vllm") is None  # waits for the entry
    out = fake.body("Deployment", NS, "out-vllm")["spec"]["template"]["spec"]
    assert out["containers"][0]["args"][0] == sample_body("cpu-small")["spec"]["model"]["name"]  # downloads itself
    assert "weights" not in fake.body("InferenceDeployment", NS, "out")["status"]


def test_a_downloading_entry_reads_the_pods_progress_and_the_resource_says_n_of_m_mb() -> None:
    fake = FakeKube()
    asked: list[str] = []

    def progress(url: str) -> dict[str, Any] | None:
        asked.append(url)
        return {"bytesDone": 1_500_000, "bytesTotal": 2_912_404, "commit": "a" * 40}

    ctx = Context(kube=fake, settings=OperatorSettings(), read_progress=progress)
    resource(fake, "a")
    reconcile_all(ctx, fake, "a")
    (entry,) = entries(fake)
    name = entry["metadata"]["name"]
    assert not asked  # no running pod yet: nothing to ask
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-pod", "namespace": NS, "labels": {LABEL_WEIGHT_CACHE: name}},
            "status": {"phase": "Running", "podIP": "10.0.0.7"},
        }
    )
    reconcile_all(ctx, fake, "a")
    assert asked and asked[-1] == "http://10.0.0.7:8321/progress"
    status = fake.body("WeightCache", NS, name)["status"]
    assert (status["phase"], status["bytesDone"], status["bytesTotal"]) == ("Downloading", 1_500_000, 2_912_404)
    weights = fake.body("InferenceDeployment", NS, "a")["status"]["weights"]
    assert (weights["bytesDone"], weights["bytesTotal"]) == (1_500_000, 2_912_404)
    assert "1.5 of 2.9 MB" in weights["message"], weights
