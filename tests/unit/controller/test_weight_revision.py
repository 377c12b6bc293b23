"""spec.model.revision resolved to the commit a weight cache entry is keyed by: what each answer of the Hub means,
the pin in status.weights.resolved (asked once, read back after a restart), and each outcome on an in-memory
client: a commit key shared by `main` and its commit, a refused revision with no entry and no Job while what
serves keeps serving, a model only a token reads keyed as written, and a Hub that does not answer retried."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import kopf
import pytest

from inference_operator.api.errors import RetryLater
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.api.weight_cache import ResolveOutcome, WeightsStatus
from inference_operator.controller.context import Context
from inference_operator.controller.inference_deployment import revision
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.controller.inference_deployment.revision import HubAnswer, HubReply, Resolution, Wanted
from inference_operator.controller.weight_cache.reconcile import reconcile_weight_cache
from inference_operator.kube.client import removals
from inference_operator.render.weight_cache import entry_name, job_name
from inference_operator.runtime.reconciler import INFERENCE_DEPLOYMENT, OperatorState
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")
MAIN = "a" * 40
V2 = "b" * 40
ENDPOINT = "https://huggingface.co"
WANT = Wanted("hf://m", "m", "main")


class FakeHub:
    """The Hub as the operator asks it: branch -> commit; anything else as `otherwise` says."""

    def __init__(self, branches: dict[str, str], otherwise: HubReply | None = None) -> None:
        self.branches = dict(branches)
        self.otherwise = otherwise or HubReply(HubAnswer(404, "RevisionNotFound"))
        self.asked: list[tuple[str, str]] = []

    def __call__(self, model: str, rev: str) -> HubReply:
        self.asked.append((model, rev))
        if rev in self.branches:
            return HubReply(HubAnswer(200, sha=self.branches[rev]))
        return self.otherwise


def resource(fake: FakeKube, name: str, rev: str = "main") -> dict[str, Any]:
    body = sample_body("cpu-small")
    old = fake.get("InferenceDeployment", NS, name)
    generation = int((old or {}).get("metadata", {}).get("generation", 0)) + 1
    body["metadata"] = {**body["metadata"], "name": name, "uid": f"uid-{name}", "generation": generation}
    body["spec"]["model"]["revision"] = rev
    body["spec"]["model"]["cache"] = {"enabled": True, "size": "2Gi"}
    if old is not None and old.get("status"):
        body["status"] = old["status"]
    fake.put(body)
    fake.body("InferenceDeployment", NS, name)["metadata"]["generation"] = generation  # as the API server bumps it
    return body


def entries(fake: FakeKube) -> dict[str, dict[str, Any]]:
    return {e["metadata"]["name"]: e for e in fake.list("WeightCache", NS, "")}


def jobs(fake: FakeKube) -> list[str]:
    return [w[2] for w in fake.writes if w[:2] == ("create", "Job")]


def complete(fake: FakeKube, entry: str) -> None:
    fake.body("Job", NS, job_name(entry))["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}


def reconcile_all(ctx: Context, fake: FakeKube, *names: str) -> None:
    for name in names:
        reconcile_inference_deployment(ctx, NS, name, LOG)
    for e in list(entries(fake)):
        reconcile_weight_cache(ctx, NS, e, LOG)
    for name in names:
        reconcile_inference_deployment(ctx, NS, name, LOG)


def serving_at_main() -> tuple[FakeKube, FakeHub, Context, str, dict[str, Any]]:
    """Resource `a` at main, served from its complete entry: the fake, the Hub, the context, the entry's name and
    the serving Deployment."""
    fake, hub = FakeKube(), FakeHub({"main": MAIN})
    ctx = Context(kube=fake, settings=OperatorSettings(), ask_hub=hub)
    resource(fake, "a", "main")
    reconcile_all(ctx, fake, "a")
    (old,) = entries(fake)
    complete(fake, old)
    reconcile_all(ctx, fake, "a")
    return fake, hub, ctx, old, fake.body("Deployment", NS, "a-vllm")


def weights_of(fake: FakeKube, name: str) -> dict[str, Any]:
    weights: dict[str, Any] = fake.body("InferenceDeployment", NS, name)["status"]["weights"]
    return weights


def condition(fake: FakeKube, name: str) -> dict[str, Any]:
    conditions = fake.body("InferenceDeployment", NS, name)["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "WeightsCached")


# What each answer means (pure)


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (HubReply(HubAnswer(200, sha=MAIN)), ResolveOutcome.RESOLVED),
        (HubReply(HubAnswer(404, "RevisionNotFound")), ResolveOutcome.REVISION_NOT_FOUND),
        (HubReply(HubAnswer(404, "RepoNotFound"), HubAnswer(404, "RepoNotFound")), ResolveOutcome.MODEL_NOT_FOUND),
        # olah 0.5.4 offline: 401 RepoNotFound for a missing revision of a model it lists refs of
        (HubReply(HubAnswer(401, "RepoNotFound"), HubAnswer(200)), ResolveOutcome.REVISION_NOT_FOUND),
        (HubReply(HubAnswer(401, "RepoNotFound"), HubAnswer(404, "EntryNotFound")), ResolveOutcome.MODEL_NOT_FOUND),
        # the Hub without a token: a private or gated model, or none; only the download Job's token tells
        (HubReply(HubAnswer(401, "RepoNotFound"), HubAnswer(401, "RepoNotFound")), ResolveOutcome.AS_WRITTEN),
        (HubReply(HubAnswer(403, "GatedRepo")), ResolveOutcome.AS_WRITTEN),
        (HubReply(HubAnswer(400)), ResolveOutcome.AS_WRITTEN),
        (HubReply(HubAnswer(200)), ResolveOutcome.AS_WRITTEN),  # a mirror answering without a commit
        (HubReply(HubAnswer(None, detail="connection refused")), None),
        (HubReply(HubAnswer(503)), None),
        (HubReply(HubAnswer(429)), None),
        (HubReply(HubAnswer(401), HubAnswer(None, detail="timed out")), None),
    ],
)
def test_each_answer_of_the_hub_has_one_meaning(reply: HubReply, outcome: ResolveOutcome | None) -> None:
    found = revision.classify(WANT, reply, ENDPOINT, 3)
    assert found.outcome is outcome
    assert found.commit == (MAIN if outcome is ResolveOutcome.RESOLVED else None)
    assert found.key_revision == {ResolveOutcome.RESOLVED: MAIN, ResolveOutcome.AS_WRITTEN: "main"}.get(outcome)  # type: ignore[arg-type]
    if outcome is not ResolveOutcome.RESOLVED:
        assert "spec.model.revision 'main'" in found.message and "\n" not in found.message
    assert found.generation == (3 if found.refused else None)


def test_the_refs_are_asked_only_where_the_revision_s_answer_leaves_open_what_is_missing() -> None:
    assert revision.needs_refs(HubAnswer(401, "RepoNotFound"))
    assert revision.needs_refs(HubAnswer(404, "RepoNotFound"))
    assert not revision.needs_refs(HubAnswer(404, "RevisionNotFound"))
    assert not revision.needs_refs(HubAnswer(403, "GatedRepo"))
    assert not revision.needs_refs(HubAnswer(200, sha=MAIN))
    assert not revision.needs_refs(HubAnswer(None))


def test_a_commit_as_written_is_used_with_no_request_and_a_pin_only_for_its_own_revision() -> None:
    assert revision.known(Wanted("hf://m", "m", MAIN), {}, 1) == Resolution(
        Wanted("hf://m", "m", MAIN), ResolveOutcome.COMMIT, MAIN
    )
    assert revision.known(Wanted("hf://m", "m", MAIN.upper()), {}, 1) is None  # the Hub's commits are lowercase
    pin = Resolution(WANT, ResolveOutcome.RESOLVED, MAIN).to_status()
    assert pin == {"source": "hf://m", "model": "m", "revision": "main", "outcome": "Resolved", "commit": MAIN}
    status = {"weights": {"resolved": pin}}
    assert revision.known(WANT, status, 7) == Resolution(WANT, ResolveOutcome.RESOLVED, MAIN)
    assert revision.known(dataclasses.replace(WANT, revision="v2"), status, 7) is None
    assert revision.known(dataclasses.replace(WANT, model="other"), status, 7) is None
    assert revision.known(WANT, {"weights": {"resolved": {**pin, "commit": "zz"}}}, 7) is None
    assert revision.known(WANT, {"weights": {"resolved": {**pin, "outcome": "Unknown"}}}, 7) is None
    refused = revision.classify(WANT, HubReply(HubAnswer(404, "RevisionNotFound")), ENDPOINT, 4).to_status()
    assert revision.known(WANT, {"weights": {"resolved": refused}}, 4) is not None
    assert revision.known(WANT, {"weights": {"resolved": refused}}, 5) is None  # an edit asks again


def test_the_pin_is_written_ahead_of_the_entry_only_when_it_names_a_new_key() -> None:
    resolved = Resolution(WANT, ResolveOutcome.RESOLVED, MAIN)
    status = {"weights": {"entry": "wc-old", "phase": "Complete"}}
    assert revision.early_pin(status, resolved) == {
        "entry": "wc-old",
        "phase": "Complete",
        "resolved": resolved.to_status(),
    }
    assert revision.early_pin({"weights": {"resolved": resolved.to_status()}}, resolved) is None
    # A resource's first pin: status.weights.phase is required by the CRD (the API server refused a pin without it).
    first = revision.early_pin({}, resolved)
    assert first == {"phase": "Pending", "resolved": resolved.to_status()}
    WeightsStatus.model_validate(first)
    assert revision.early_pin(status, Resolution(WANT, None, message="no answer")) is None
    assert revision.early_pin(status, Resolution(WANT, ResolveOutcome.REVISION_NOT_FOUND)) is None
    assert revision.early_pin(status, Resolution(WANT, ResolveOutcome.COMMIT, MAIN)) is None
    assert revision.early_pin(status, None) is None


def test_the_entry_in_use_comes_from_the_pin_and_none_while_unresolved() -> None:
    body = resource(FakeKube(), "a")
    infd = InferenceDeployment.model_validate({k: v for k, v in body.items() if k != "status"})
    pin = Resolution(revision.wanted(infd, False) or WANT, ResolveOutcome.RESOLVED, MAIN).to_status()
    model = infd.spec.model.name
    assert revision.entry_of(infd, {"weights": {"resolved": pin}}, False) == entry_name(f"hf://{model}", model, MAIN)
    assert revision.entry_of(infd, {}, False) is None


def test_retries_back_off_to_a_cap() -> None:
    assert [revision.retry_delay(n) for n in (0, 1, 2, 3, 5, 50)] == [10.0, 20.0, 40.0, 80.0, 300.0, 300.0]


def test_a_status_patch_removes_keys_at_any_depth() -> None:
    previous = {"weights": {"entry": "x", "resolved": {"revision": "main", "commit": MAIN}}, "phase": "Ready"}
    new = {"weights": {"entry": "x", "resolved": {"revision": "v2", "message": "why"}}}
    assert removals(new, previous) == {
        "weights": {"entry": "x", "resolved": {"revision": "v2", "message": "why", "commit": None}},
        "phase": None,
    }


# Each outcome on an in-memory client


def test_main_and_its_commit_share_one_entry_keyed_by_the_commit_and_main_is_asked_once() -> None:
    fake, hub = FakeKube(), FakeHub({"main": MAIN})
    ctx = Context(kube=fake, settings=OperatorSettings(), ask_hub=hub)
    resource(fake, "a", "main")
    resource(fake, "b", MAIN)
    reconcile_all(ctx, fake, "a", "b")
    ((name, entry),) = entries(fake).items()
    assert entry["spec"]["revision"] == MAIN
    assert jobs(fake) == [job_name(name)]
    assert weights_of(fake, "a")["resolved"] == {
        "source": entry["spec"]["source"],
        "model": entry["spec"]["model"],
        "revision": "main",
        "outcome": "Resolved",
        "commit": MAIN,
    }
    assert weights_of(fake, "b")["resolved"]["outcome"] == "Commit"
    assert hub.asked == [(entry["spec"]["model"], "main")]  # once; the commit was never asked
    # `main` moves on the Hub; a restarted operator reads the pin back and stays on the entry it serves from.
    hub.branches["main"] = V2
    restarted = Context(kube=fake, settings=OperatorSettings(), ask_hub=hub)
    complete(fake, name)
    reconcile_all(restarted, fake, "a", "b")
    assert list(entries(fake)) == [name] and len(hub.asked) == 1
    assert fake.body("Deployment", NS, "a-vllm")["spec"]["template"]["spec"]["containers"][0]["args"][0] == (
        "/weights/model"
    )


def test_a_revision_change_is_one_new_entry_and_the_pin_keeps_it_from_eviction() -> None:
    fake, hub = FakeKube(), FakeHub({"main": MAIN, "v2": V2})
    settings = dataclasses.replace(OperatorSettings(), weight_cache_budget="3Gi")  # two 2Gi entries do not fit
    ctx = Context(kube=fake, settings=settings, ask_hub=hub)
    resource(fake, "a", "main")
    resource(fake, "b", "main")
    reconcile_all(ctx, fake, "a", "b")
    (old,) = entries(fake)
    complete(fake, old)
    reconcile_all(ctx, fake, "a", "b")
    resource(fake, "a", "v2")
    reconcile_inference_deployment(ctx, NS, "a", LOG)
    new = next(e for e in entries(fake) if e != old)
    reconcile_weight_cache(ctx, NS, new, LOG)  # its first reconcile evicts over the budget: not itself
    assert set(entries(fake)) == {old, new}
    assert entries(fake)[new]["spec"]["revision"] == V2
    assert jobs(fake) == [job_name(old), job_name(new)]
    complete(fake, new)
    reconcile_all(ctx, fake, "a", "b")
    assert set(entries(fake)) == {old, new}  # b still asks for main's entry
    assert weights_of(fake, "a")["entry"] == new and weights_of(fake, "b")["entry"] == old
    labels = fake.body("Deployment", NS, "a-vllm")["spec"]["template"]["metadata"]["labels"]
    assert new in labels.values()


def test_a_missing_revision_fails_at_once_with_no_entry_and_no_job_and_what_serves_serves_on() -> None:
    fake, hub, ctx, old, serving = serving_at_main()
    resource(fake, "a", "no-such-revision")
    reconcile_all(ctx, fake, "a")
    assert list(entries(fake)) == [old] and jobs(fake) == [job_name(old)]
    weights = weights_of(fake, "a")
    assert (weights["phase"], weights["reason"]) == ("Failed", "RevisionNotFound") and "entry" not in weights
    cond = condition(fake, "a")
    assert (cond["status"], cond["reason"]) == ("False", "RevisionNotFound")
    assert "spec.model.revision 'no-such-revision'" in cond["message"] and "\n" not in cond["message"]
    assert [e for e in fake.events if e[1] == "RevisionNotFound"] == [("Warning", "RevisionNotFound", cond["message"])]
    assert fake.body("Deployment", NS, "a-vllm")["spec"] == serving["spec"]
    asked = len(hub.asked)
    reconcile_all(ctx, fake, "a")  # pinned at this generation: not asked again, no second Event
    assert len(hub.asked) == asked and len([e for e in fake.events if e[1] == "RevisionNotFound"]) == 1
    hub.branches["no-such-revision"] = V2  # pushed since; an edit of the spec asks again
    resource(fake, "a", "no-such-revision")
    reconcile_all(ctx, fake, "a")
    assert len(entries(fake)) == 2


def test_a_missing_model_fails_at_once() -> None:
    fake = FakeKube()
    hub = FakeHub({}, HubReply(HubAnswer(404, "RepoNotFound"), HubAnswer(404, "RepoNotFound")))
    ctx = Context(kube=fake, settings=OperatorSettings(), ask_hub=hub)
    resource(fake, "a", "main")
    reconcile_all(ctx, fake, "a")
    assert not entries(fake) and not jobs(fake) and fake.get("Deployment", NS, "a-vllm") is None
    assert condition(fake, "a")["reason"] == "ModelNotFound"


def test_a_model_only_a_token_reads_is_keyed_as_written_and_the_status_says_why() -> None:
    fake = FakeKube()
    hub = FakeHub({}, HubReply(HubAnswer(401, "RepoNotFound"), HubAnswer(401, "RepoNotFound")))
    ctx = Context(kube=fake, settings=OperatorSettings(), ask_hub=hub)
    resource(fake, "a", "main")
    reconcile_all(ctx, fake, "a")
    ((name, entry),) = entries(fake).items()
    assert entry["spec"]["revision"] == "main" and jobs(fake) == [job_name(name)]
    weights = weights_of(fake, "a")
    assert weights["resolved"]["outcome"] == "AsWritten"
    assert "keyed as written" in weights["message"] and "HTTP 401" in weights["message"]
    assert "keyed as written" in condition(fake, "a")["message"]


def test_a_hub_that_does_not_answer_is_retried_and_says_so_and_what_serves_serves_on() -> None:
    fake, hub, ctx, old, serving = serving_at_main()
    hub.otherwise = HubReply(HubAnswer(None, detail="timed out"))
    resource(fake, "a", "v2")
    with pytest.raises(RetryLater, match="timed out"):
        reconcile_inference_deployment(ctx, NS, "a", LOG)
    weights = weights_of(fake, "a")
    assert (weights["phase"], weights["reason"]) == ("Pending", "Resolving") and "resolved" not in weights
    assert (condition(fake, "a")["status"], condition(fake, "a")["reason"]) == ("Unknown", "Resolving")
    assert list(entries(fake)) == [old]
    assert fake.body("Deployment", NS, "a-vllm")["spec"] == serving["spec"]
    hub.branches["v2"] = V2  # the Hub is back
    reconcile_all(ctx, fake, "a")
    assert len(entries(fake)) == 2 and weights_of(fake, "a")["resolved"]["commit"] == V2


def test_the_runtime_retries_a_hub_that_does_not_answer_with_a_growing_delay() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=OperatorSettings(), ask_hub=FakeHub({}, HubReply(HubAnswer(503))))
    state = OperatorState.create(ctx, workers=1)
    resource(fake, "a", "main")

    async def delays() -> list[tuple[float | None, str]]:
        out = []
        for retry in (0, 3):
            try:
                await state.reconcile(INFERENCE_DEPLOYMENT, NS, "a", LOG, retry)
            except kopf.TemporaryError as exc:
                out.append((exc.delay, str(exc)))
        return out

    ((first, said), (later, _)) = asyncio.run(delays())  # one loop: the queue belongs to it
    assert (first, later) == (10.0, 80.0) and "HTTP 503" in said
