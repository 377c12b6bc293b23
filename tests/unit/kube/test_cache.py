"""The operator's object cache (what reconciles read instead of GETs) and kopf's write-free diff-base."""

from __future__ import annotations

from typing import Any, cast

import kopf

from inference_operator.kube.cache import ObjectCache
from inference_operator.runtime.storage import ObservedGenerationDiffBase

KEY = ("Deployment", "ns", "d")


def deployment(rv: str, ready: int = 0) -> dict[str, Any]:
    meta = {"name": "d", "namespace": "ns", "resourceVersion": rv, "managedFields": [{"manager": "x"}]}
    return {"kind": "Deployment", "metadata": meta, "status": {"readyReplicas": ready}}


def test_a_newer_body_replaces_an_older_one_and_never_the_reverse() -> None:
    cache = ObjectCache()
    assert cache.swap(deployment("10", ready=0)) is None
    before = cache.swap(deployment("12", ready=1))
    assert before is not None and before["status"]["readyReplicas"] == 0
    cache.put(deployment("11", ready=0))  # a watch event delivered after the response to a later write
    known, obj = cache.lookup(KEY)
    assert known and obj is not None and obj["metadata"]["resourceVersion"] == "12"


def test_managed_fields_are_not_kept_and_every_read_is_a_copy() -> None:
    cache = ObjectCache()
    cache.put(deployment("1"))
    _, obj = cache.lookup(KEY)
    assert obj is not None and "managedFields" not in obj["metadata"]
    obj["status"]["readyReplicas"] = 7
    assert cache.lookup(KEY)[1] == {**obj, "status": {"readyReplicas": 0}}


def test_unknown_is_a_miss_and_absent_is_an_answer() -> None:
    cache = ObjectCache()
    assert cache.lookup(KEY) == (False, None)
    cache.missing(KEY)
    assert cache.lookup(KEY) == (True, None)
    cache.put(deployment("5"))
    assert cache.lookup(KEY)[1] is not None


def test_a_404_does_not_hide_an_object_a_watch_event_told_of() -> None:
    cache = ObjectCache()
    cache.put(deployment("5"))
    cache.missing(KEY)
    assert cache.lookup(KEY)[1] is not None


def test_deletion_is_remembered_until_a_newer_body_comes() -> None:
    cache = ObjectCache()
    cache.put(deployment("5"))
    assert cache.swap(deployment("6"), deleted=True) is not None
    assert cache.lookup(KEY) == (True, None)
    cache.put(deployment("4"))  # older than the deletion
    assert cache.lookup(KEY) == (True, None)
    cache.put(deployment("7"))  # created again
    assert cache.lookup(KEY)[1] is not None
    cache.forget(KEY)
    assert cache.lookup(KEY) == (False, None)


def infd(generation: int, observed: int | None) -> kopf.Body:
    status = {} if observed is None else {"observedGeneration": observed}
    raw: dict[str, Any] = {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "metadata": {"name": "m", "generation": generation},
        "spec": {"replicas": 1},
        "status": status,
    }
    return kopf.Body(cast(kopf.RawBody, raw))


def test_the_diff_base_is_the_observed_generation() -> None:
    storage = ObservedGenerationDiffBase()
    assert storage.fetch(body=infd(1, None)) is None  # never handled: kopf sees a creation
    assert storage.fetch(body=infd(3, 2)) is None  # a spec the operator has not handled yet
    handled = infd(3, 3)
    assert storage.fetch(body=handled) == storage.build(body=handled)  # unchanged: nothing to do


def test_the_diff_base_writes_nothing() -> None:
    patch = kopf.Patch()
    ObservedGenerationDiffBase().store(body=infd(2, 2), patch=patch, essence=storage_essence())
    assert not patch


def storage_essence() -> kopf.BodyEssence:
    return ObservedGenerationDiffBase().build(body=infd(2, 2))


def test_the_essence_is_kopfs_own_without_copying_status_and_metadata() -> None:
    raw: dict[str, Any] = {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {
            "name": "m",
            "generation": 2,
            "labels": {"team": "a"},
            "annotations": {"note": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"replicas": 1, "model": {"name": "Qwen/Qwen2.5-0.5B-Instruct"}},
        "status": {"observedGeneration": 2, "phase": "Ready"},
    }
    body = kopf.Body(cast(kopf.RawBody, raw))
    kopfs = kopf.StatusDiffBaseStorage().build(body=body)
    assert ObservedGenerationDiffBase().build(body=body) == kopfs
    assert kopfs == {"spec": raw["spec"], "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}}}


def test_other_kinds_have_no_diff_base() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 1}, "status": {}}
    deployment["status"] = {"observedGeneration": 1}
    assert ObservedGenerationDiffBase().fetch(body=kopf.Body(cast(kopf.RawBody, deployment))) is None


def test_after_a_complete_listing_a_key_it_did_not_hold_is_absent_in_the_namespaces_it_covers() -> None:
    cache = ObjectCache()
    cache.put(deployment("5"))
    cache.listed("Deployment", {"ns"}.__contains__)
    assert cache.lookup(KEY)[1] is not None
    assert cache.lookup(("Deployment", "ns", "other")) == (True, None)  # not in the listing: absent
    assert cache.lookup(("Deployment", "elsewhere", "other")) == (False, None)  # a namespace it did not cover
    assert cache.lookup(("Service", "ns", "other")) == (False, None)  # a kind not listed


def test_a_forgotten_key_asks_the_server_even_after_a_listing_until_it_is_known_again() -> None:
    cache = ObjectCache()
    cache.listed("Deployment", lambda _ns: True)
    cache.put(deployment("5"))
    cache.forget(KEY)  # the operator deleted it: it may still be terminating
    assert cache.lookup(KEY) == (False, None)
    cache.missing(KEY)  # the server's answer, a 404
    assert cache.lookup(KEY) == (True, None)
    cache.forget(KEY)
    cache.put(deployment("6"))  # or a watch event, or a write's response
    assert cache.lookup(KEY)[1] is not None
