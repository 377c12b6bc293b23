"""Deleting a resource never deletes a weight cache entry in use: every live consumer that mounts an entry keeps
it from eviction (serving Deployments and LeaderWorkerSets of both engines, build and quantization Jobs, an
EngineBuild not finished), whether or not a resource still asks for it; a finished one keeps nothing."""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import pytest

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.weight_cache.desired import entries_in_use
from inference_operator.controller.weight_cache.reconcile import reconcile_weight_cache
from inference_operator.kube.errors import NotFound
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import render_engine_build, render_quantization_build
from inference_operator.render.multinode import GroupShape
from inference_operator.render.trtllm import render_trtllm_deployment
from inference_operator.render.trtllm_multinode import render_trtllm_leader_worker_set
from inference_operator.render.vllm import render_vllm_deployment, render_vllm_leader_worker_set
from inference_operator.render.weight_cache import LABEL_WEIGHT_CACHE, render_weight_cache
from tests.support.fake_kube import FakeKube
from tests.support.quantization import calibrated
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")
ENTRY = "wc-0123456789abcdef0123"
OTHER = "wc-ffffffffffffffffffff"
STORE = OperatorSettings().store
SHAPE = GroupShape(size=2, gpus_per_pod=8)


def infd(sample: str, **trt: Any) -> InferenceDeployment:
    body = sample_body(sample)
    body["spec"]["model"]["cache"] = {"enabled": True, "size": "2Gi"}
    body["spec"].setdefault("engine", {}).setdefault("tensorrtLLM", {}).update(trt)
    return InferenceDeployment.model_validate(body)


def created(obj: dict[str, Any]) -> EngineBuild:
    obj["metadata"]["uid"] = "uid-build"
    return EngineBuild.model_validate(obj)


def engine_build() -> dict[str, Any]:
    return render_engine_build(infd("llama-3-1-70b-h100-trtllm"), STORE, entry=ENTRY)


def quantization_build() -> dict[str, Any]:
    return render_quantization_build(calibrated("q", "vllm"), STORE, entry=ENTRY)


CONSUMERS: dict[str, Callable[[], dict[str, Any]]] = {
    "vllm-deployment": lambda: render_vllm_deployment(infd("cpu-small"), weights=ENTRY),
    "vllm-group": lambda: render_vllm_leader_worker_set(infd("multi-node/llama-3-1-405b-h100"), SHAPE, None, ENTRY),
    "trtllm-pytorch-deployment": lambda: render_trtllm_deployment(
        infd("llama-3-1-70b-h100-trtllm", backend="pytorch"), None, STORE, None, ENTRY
    ),
    "trtllm-group": lambda: render_trtllm_leader_worker_set(
        infd("multi-node/llama-3-1-405b-h100-trtllm", backend="pytorch"), SHAPE, None, STORE, None, ENTRY
    ),
    "engine-build-job": lambda: render_build_job(created(engine_build())),
    "quantization-build-job": lambda: render_build_job(created(quantization_build())),
    "engine-build-not-started": engine_build,
}


def without_weight_cache_labels(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with every weight-cache label removed: its volumes alone must say which entry it mounts."""
    out = copy.deepcopy(obj)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            (node.get("labels") or {}).pop(LABEL_WEIGHT_CACHE, None)
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(out)
    return out


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_every_live_consumer_keeps_the_entry_it_mounts(consumer: str) -> None:
    obj = CONSUMERS[consumer]()
    assert entries_in_use(set(), [obj], [ENTRY, OTHER]) == {ENTRY}
    assert entries_in_use(set(), [without_weight_cache_labels(obj)], [ENTRY, OTHER]) == {ENTRY}
    assert entries_in_use({OTHER}, [obj], [ENTRY, OTHER]) == {ENTRY, OTHER}


def test_a_consumer_mounting_no_entry_keeps_none() -> None:
    plain = render_vllm_deployment(infd("cpu-small"))
    store_job = render_build_job(created(render_engine_build(infd("llama-3-1-70b-h100-trtllm"), STORE)))
    assert entries_in_use(set(), [plain, store_job], [ENTRY, OTHER]) == set()


def test_a_finished_build_job_or_engine_build_keeps_nothing() -> None:
    for kind in ("Complete", "Failed"):
        job = render_build_job(created(engine_build()))
        job["status"] = {"conditions": [{"type": kind, "status": "True"}]}
        assert entries_in_use(set(), [job], [ENTRY]) == set(), kind
    for phase in ("Succeeded", "Failed"):
        build = engine_build() | {"status": {"phase": phase}}
        assert entries_in_use(set(), [build], [ENTRY]) == set(), phase
    building = engine_build() | {"status": {"phase": "Building"}}
    assert entries_in_use(set(), [building], [ENTRY]) == {ENTRY}


def put_complete_entry(fake: FakeKube, revision: str, created_at: str, name: str | None = None) -> str:
    """An entry nobody asks for (its resource was deleted), complete, of 2Gi; `name` overrides the key's."""
    body = sample_body("cpu-small")
    body["spec"]["model"] = {**body["spec"]["model"], "revision": revision, "cache": {"enabled": True, "size": "2Gi"}}
    entry = render_weight_cache(InferenceDeployment.model_validate(body))
    entry["metadata"] |= {"uid": f"uid-{revision}", "creationTimestamp": created_at}
    if name is not None:
        entry["metadata"]["name"] = name
    entry["status"] = {"phase": "Complete"}
    fake.put(entry)
    return str(entry["metadata"]["name"])


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_eviction_over_the_budget_spares_an_entry_a_live_consumer_mounts(consumer: str) -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=dataclasses.replace(OperatorSettings(), weight_cache_budget="1Gi"))
    put_complete_entry(fake, "r1", "2026-01-01T00:00:00Z", name=ENTRY)
    gone = put_complete_entry(fake, "r2", "2026-01-02T00:00:00Z")
    obj = CONSUMERS[consumer]()
    obj["metadata"]["namespace"] = NS
    fake.put(obj)
    reconcile_weight_cache(ctx, NS, gone, LOG)  # 4Gi over 1Gi: only the unused entry goes
    assert [e["metadata"]["name"] for e in fake.list("WeightCache", NS, "")] == [ENTRY]


def running_build_job(fake: FakeKube, entry: str) -> dict[str, Any]:
    """The build Job of an EngineBuild reading `entry`, running (its resource deleted; the build is not)."""
    build = render_engine_build(infd("llama-3-1-70b-h100-trtllm"), STORE, entry=entry)
    build["metadata"]["namespace"] = NS
    job = render_build_job(created(build))
    job["status"] = {"active": 1}
    fake.put(job)
    return job


def test_a_running_build_job_keeps_an_entry_nobody_asks_for_until_it_finishes() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=dataclasses.replace(OperatorSettings(), weight_cache_budget="1Gi"))
    entry = put_complete_entry(fake, "r1", "2026-01-01T00:00:00Z")
    job = running_build_job(fake, entry)
    reconcile_weight_cache(ctx, NS, entry, LOG)
    assert fake.get("WeightCache", NS, entry) is not None  # over the budget, but a build reads it
    assert not any(e[1] == "Evicted" for e in fake.events)
    fake.body("Job", NS, job["metadata"]["name"])["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    reconcile_weight_cache(ctx, NS, entry, LOG)
    assert fake.get("WeightCache", NS, entry) is None
    assert any(e[1] == "Evicted" and entry in e[2] for e in fake.events)


def test_without_the_leader_worker_set_api_eviction_still_counts_the_other_consumers() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=dataclasses.replace(OperatorSettings(), weight_cache_budget="1Gi"))
    kept = put_complete_entry(fake, "r1", "2026-01-01T00:00:00Z")
    gone = put_complete_entry(fake, "r2", "2026-01-02T00:00:00Z")
    running_build_job(fake, kept)
    fake.fail_next["list:LeaderWorkerSet"] = NotFound(404, "NotFound", "the server could not find the resource")
    reconcile_weight_cache(ctx, NS, gone, LOG)
    assert [e["metadata"]["name"] for e in fake.list("WeightCache", NS, "")] == [kept]
