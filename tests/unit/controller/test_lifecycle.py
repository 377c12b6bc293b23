"""`inference-operator render` shows what the reconcile writes: the same desired-state functions, compared with
the objects the reconcile leaves on an in-memory client once a resource has converged."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import MONITORING_API, Context
from inference_operator.controller.engine_build.reconcile import reconcile_engine_build
from inference_operator.controller.inference_deployment.lifecycle import converged_objects
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.render.engine_key import build_job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body, sample_names

LOG = logging.getLogger("test")
ROUNDS = 6


def converge(fake: FakeKube, ctx: Context, name: str) -> None:
    """Reconcile, with every Deployment rolling out and every build succeeding, until nothing changes."""
    for _ in range(ROUNDS):
        reconcile_inference_deployment(ctx, NS, name, LOG)
        for kind, ns, obj_name in list(fake.objects):
            if kind == "Deployment":
                fake.cluster_roll_out(ns, obj_name)
            if kind == "EngineBuild":
                reconcile_engine_build(ctx, ns, obj_name, LOG)
                if ("Job", ns, build_job_name(obj_name)) in fake.objects:
                    fake.cluster_finish_job(ns, build_job_name(obj_name), succeeded=True)
                    reconcile_engine_build(ctx, ns, obj_name, LOG)


def comparable(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"]["name"], json.dumps(obj.get("spec"), sort_keys=True)


@pytest.mark.parametrize("sample", sample_names())
def test_render_is_the_converged_state_of_the_reconcile(sample: str) -> None:
    settings = OperatorSettings()
    fake = FakeKube(served_apis={MONITORING_API})
    fake.cluster_add_gpu_nodes()
    body = sample_body(sample)
    body["spec"]["monitoring"] = {"enabled": True}
    fake.put(body)
    converge(fake, Context(kube=fake, settings=settings), body["metadata"]["name"])
    serving = {comparable(o) for (k, _, _), o in fake.objects.items() if k in ("Deployment", "Service", "PodMonitor")}
    rendered = converged_objects(InferenceDeployment.model_validate(body), settings)
    assert {comparable(o) for o in rendered if o["kind"] in ("Service", "PodMonitor")} <= serving
    final_deployments = {comparable(o) for o in rendered if o["kind"] == "Deployment"}
    # render lists the interim vLLM too (it shows the way there); the converged cluster has the last one.
    assert {d for d in serving if d[0] == "Deployment"} <= final_deployments
