"""The EngineBuild reconcile on an in-memory client: one Job per key, the result recorded once and for good."""

from __future__ import annotations

import logging

import pytest

from inference_operator.api.errors import InvalidSpec
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.engine_build.reconcile import reconcile_engine_build
from inference_operator.render.engine_build import render_engine_build
from inference_operator.render.engine_key import build_job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import load_sample

LOG = logging.getLogger("test")


def setup() -> tuple[Context, FakeKube, str]:
    fake = FakeKube()
    fake.cluster_add_gpu_nodes()
    settings = OperatorSettings()
    build = fake.put(render_engine_build(load_sample("llama-3-1-70b-h100-trtllm"), settings.store))
    return Context(kube=fake, settings=settings), fake, str(build["metadata"]["name"])


def test_one_job_and_a_final_result() -> None:
    ctx, fake, name = setup()
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Pending"
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Pending"
    assert [w for w in fake.writes if w[0] == "create"] == [
        ("create", "PersistentVolumeClaim", "inference-engine-store"),
        ("create", "Job", build_job_name(name)),
    ]
    fake.cluster_finish_job(NS, build_job_name(name), succeeded=True)
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Succeeded"
    status = fake.body("EngineBuild", NS, name)["status"]
    assert status["durationSeconds"] == 600 and status["enginePath"].endswith(f"/{name}/engine")
    del fake.objects[("Job", NS, build_job_name(name))]  # cleaned up after the result was recorded
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Succeeded"
    assert not fake.get("Job", NS, build_job_name(name)), "a finished build was started again"
    assert [r for _, r, _ in fake.events] == ["BuildPending", "BuildSucceeded"]


def test_a_failed_build_is_a_warning() -> None:
    ctx, fake, name = setup()
    reconcile_engine_build(ctx, NS, name, LOG)
    fake.cluster_finish_job(NS, build_job_name(name), succeeded=False)
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Failed"
    assert fake.events[-1][:2] == ("Warning", "BuildFailed")


def test_a_gone_build_is_forgotten_and_an_unusable_one_is_an_invalid_spec() -> None:
    ctx, fake, name = setup()
    fake.body("EngineBuild", NS, name)["spec"]["tensor"] = 0
    with pytest.raises(InvalidSpec, match=r"spec\.tensor"):
        reconcile_engine_build(ctx, NS, name, LOG)
    del fake.objects[("EngineBuild", NS, name)]
    assert reconcile_engine_build(ctx, NS, name, LOG) is None


def conditions(fake: FakeKube, name: str) -> dict[str, tuple[str, str]]:
    status = fake.body("EngineBuild", NS, name)["status"]
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_a_failed_build_whose_job_the_ttl_removed_is_not_started_again() -> None:
    ctx, fake, name = setup()
    reconcile_engine_build(ctx, NS, name, LOG)
    fake.cluster_finish_job(NS, build_job_name(name), succeeded=False)
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Failed"
    recorded = dict(fake.body("EngineBuild", NS, name)["status"])
    del fake.objects[("Job", NS, build_job_name(name))]  # ttlSecondsAfterFinished ran out
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Failed"
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Failed"
    assert not fake.get("Job", NS, build_job_name(name)), "a failed build was started again"
    assert [w for w in fake.writes if w[:2] == ("create", "Job")] == [("create", "Job", build_job_name(name))]
    assert fake.body("EngineBuild", NS, name)["status"] == recorded, "the record changed without its Job"
    assert conditions(fake, name)["Stalled"][0] == "True" and conditions(fake, name)["Ready"][0] == "False"


def test_a_result_recorded_before_the_kstatus_conditions_gains_them_without_its_job() -> None:
    """A status an older operator wrote (Succeeded only) is completed, not rebuilt, once its Job is gone."""
    ctx, fake, name = setup()
    fake.body("EngineBuild", NS, name)["status"] = {
        "observedGeneration": 1,
        "phase": "Succeeded",
        "message": "Engine written to /engines/x/engine.",
        "conditions": [
            {
                "type": "Succeeded",
                "status": "True",
                "reason": "EngineBuilt",
                "message": "Engine written to /engines/x/engine.",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "observedGeneration": 1,
            }
        ],
    }
    assert reconcile_engine_build(ctx, NS, name, LOG) == "Succeeded"
    assert not fake.get("Job", NS, build_job_name(name))
    assert conditions(fake, name) == {
        "Succeeded": ("True", "EngineBuilt"),
        "Ready": ("True", "EngineBuilt"),
        "Reconciling": ("False", "EngineBuilt"),
        "Stalled": ("False", "AsExpected"),
    }
    succeeded = fake.body("EngineBuild", NS, name)["status"]["conditions"][0]
    assert succeeded["lastTransitionTime"] == "2026-01-01T00:00:00Z", "the result's time moved"


def test_the_operator_creates_build_jobs_with_its_ttl() -> None:
    fake = FakeKube()
    fake.cluster_add_gpu_nodes()
    settings = OperatorSettings(build_job_ttl_seconds=120)
    build = fake.put(render_engine_build(load_sample("llama-3-1-70b-h100-trtllm"), settings.store))
    reconcile_engine_build(Context(kube=fake, settings=settings), NS, str(build["metadata"]["name"]), LOG)
    job = fake.get("Job", NS, build_job_name(str(build["metadata"]["name"])))
    assert job is not None and job["spec"]["ttlSecondsAfterFinished"] == 120
