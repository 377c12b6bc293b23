"""A download that stops for want of room (exit code 13): the entry fails with VolumeFull, and the resource's
WeightsCached condition says so in one line naming spec.model.cache.size and the size it has now."""

from __future__ import annotations

import logging

from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.controller.weight_cache.reconcile import reconcile_weight_cache
from inference_operator.render.weight_cache import LABEL_WEIGHT_CACHE, job_name
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")


def test_a_download_without_room_is_volume_full_naming_the_field_and_its_size() -> None:
    fake = FakeKube()
    ctx = Context(kube=fake, settings=OperatorSettings())
    body = sample_body("cpu-small")
    body["spec"]["model"]["cache"] = {"enabled": True, "size": "1Mi"}
    fake.put(body)
    name = body["metadata"]["name"]
    reconcile_inference_deployment(ctx, NS, name, LOG)
    (entry,) = fake.list("WeightCache", NS, "")
    entry_name = entry["metadata"]["name"]
    reconcile_weight_cache(ctx, NS, entry_name, LOG)
    fake.body("Job", NS, job_name(entry_name))["status"] = {"conditions": [{"type": "Failed", "status": "True"}]}
    pod_status = {"containerStatuses": [{"state": {"terminated": {"exitCode": 13}}}]}
    meta = {"name": f"{entry_name}-pod", "namespace": NS, "labels": {LABEL_WEIGHT_CACHE: entry_name}}
    fake.put({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": pod_status})
    reconcile_weight_cache(ctx, NS, entry_name, LOG)
    status = fake.body("WeightCache", NS, entry_name)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "VolumeFull")
    reconcile_inference_deployment(ctx, NS, name, LOG)
    conditions = fake.body("InferenceDeployment", NS, name)["status"]["conditions"]
    cached = next(c for c in conditions if c["type"] == "WeightsCached")
    assert (cached["status"], cached["reason"]) == ("False", "VolumeFull")
    assert "raise spec.model.cache.size (now 1Mi)" in cached["message"] and "\n" not in cached["message"], cached
    assert any(e[:2] == ("Warning", "VolumeFull") for e in fake.events)
    assert fake.get("Deployment", NS, f"{name}-vllm") is None
