"""Issue 14 on live objects: kstatus (cli-utils v0.37.2 `status.Compute`, testbed/tools/kstatus) and Argo CD's
checks in gopher-lua (testbed/tools/argolua) read the statuses the running operator writes as the wanted column
of tests/unit/fixtures/kstatus, with the wanted conditions, for both kinds.

Situations are reached with the test bed's kwok stand-ins, as in test_trtllm.py: a rollout whose new pod cannot
be scheduled keeps the old pod serving (phase Ready, rolling out); build Jobs are planted under the name the
operator gives them, suspended (Pending), running for a while (Building), failing (the failure switch) or
completing. The progress-deadline row is checked in the unit tests only: the operator sizes a Deployment's
progressDeadlineSeconds at 15 minutes or more on purpose, longer than a test may wait.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from inference_operator.api.labels import LABEL_BUILD
from tests.e2e.test_trtllm import planted_build_job, trt_body
from tests.support.cluster import Cluster
from tests.support.gitops_tools import argocd_health, kstatus
from tests.support.operator_process import OperatorProcess
from tests.support.samples import SAMPLES_DIR

FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "kstatus"
ROWS = {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}
TIMEOUT = 120.0
KIND = {"InferenceDeployment": "inferencedeployment", "EngineBuild": "enginebuild"}


def observed(obj: dict[str, Any]) -> dict[str, Any]:
    conditions = {c["type"]: (c["status"], c["reason"]) for c in (obj.get("status") or {}).get("conditions") or []}
    return {"kstatus": kstatus(obj), "argocd": argocd_health(obj), "conditions": conditions}


def meets(obj: dict[str, Any], row: str) -> bool:
    want = ROWS[row]["wanted"]
    seen = observed(obj)
    held = seen["conditions"]
    return (
        seen["kstatus"][0] == want["kstatus"]
        and seen["argocd"][0] == want["argocd"]
        and all(
            t in held and held[t][0] == w["status"] and (w["reason"] is None or held[t][1] == w["reason"])
            for t, w in want["conditions"].items()
        )
    )


def wait_row(cluster: Cluster, kind: str, name: str, namespace: str, row: str) -> dict[str, Any]:
    """Poll the live object until kstatus, Argo CD and its conditions are the row's wanted column."""
    deadline = time.monotonic() + TIMEOUT
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        obj = cluster.get(KIND[kind], name, namespace)
        if obj is not None:
            last = obj
            if meets(obj, row):
                return obj
        time.sleep(0.5)
    seen = observed(last) if last is not None else "no object"
    raise AssertionError(f"{row}: {kind} {name} never reached {ROWS[row]['wanted']['kstatus']}; last: {seen}")


def small_model() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / "small-model.yaml").read_text())
    return body


def test_serving_rolling_out_and_suspended(cluster: Cluster, operator: OperatorProcess, namespace: str) -> None:
    body = small_model()
    name = body["metadata"]["name"]
    cluster.apply(body, namespace)
    wait_row(cluster, "InferenceDeployment", name, namespace, "infd-ready")

    # A spec change whose new pod no node can take: the old pod serves on while the Deployment rolls out.
    body["spec"]["resources"]["nodeSelector"] = {"testbed.inference-operator.dev/no-such-node": "true"}
    cluster.apply(body, namespace)
    obj = wait_row(cluster, "InferenceDeployment", name, namespace, "infd-rolling-update")
    assert obj["status"]["phase"] == "Ready" and obj["status"]["observedGeneration"] == obj["metadata"]["generation"]

    body["spec"]["resources"].pop("nodeSelector")
    body["spec"]["replicas"] = 0
    cluster.apply(body, namespace)
    obj = wait_row(cluster, "InferenceDeployment", name, namespace, "infd-suspended")
    assert obj["status"]["phase"] == "Suspended"


def test_a_spec_the_operator_cannot_use_is_stalled(cluster: Cluster, operator: OperatorProcess, namespace: str) -> None:
    body = small_model()
    name = body["metadata"]["name"]
    # The CRD takes any string; a Deployment's nodeSelector value must be a label value: only a new spec helps.
    body["spec"]["resources"]["nodeSelector"] = {"example.com/rack": "not a label value!"}
    cluster.apply(body, namespace)
    obj = wait_row(cluster, "InferenceDeployment", name, namespace, "infd-failed-invalid-spec")
    assert "nodeSelector" in obj["status"]["message"], obj["status"]["message"]


def test_a_failed_build_without_fallback_is_stalled_on_both_kinds(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("no-fallback", fallback="none", tensorrtLLM={"buildBackoffLimit": 0})
    job = planted_build_job(body, namespace, fail=True, run_for="5s")
    cluster.apply(job, namespace)
    cluster.apply(body, namespace)
    wait_row(cluster, "InferenceDeployment", "no-fallback", namespace, "infd-failed-engine-unavailable")
    build = job["metadata"]["labels"][LABEL_BUILD]
    wait_row(cluster, "EngineBuild", build, namespace, "eb-failed")


def test_a_build_pending_building_built_and_its_job_removed_by_the_ttl(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("builds", fallback="vllm")
    job = planted_build_job(body, namespace, fail=False, run_for="20s")
    job["spec"]["suspend"] = True  # no pod, no startTime: the build waits
    job["spec"]["ttlSecondsAfterFinished"] = 5
    job_name = job["metadata"]["name"]
    build = job["metadata"]["labels"][LABEL_BUILD]
    cluster.apply(job, namespace)
    cluster.apply(body, namespace)
    wait_row(cluster, "EngineBuild", build, namespace, "eb-pending")

    cluster.kubectl("patch", "job", job_name, "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_row(cluster, "EngineBuild", build, namespace, "eb-building")
    done = wait_row(cluster, "EngineBuild", build, namespace, "eb-succeeded")

    deadline = time.monotonic() + TIMEOUT
    while cluster.get("job", job_name, namespace) is not None:
        assert time.monotonic() < deadline, "the TTL controller never removed the finished build Job"
        time.sleep(0.5)
    # Wake the operator on the EngineBuild, then watch for a while: the Job stays gone, the record stays.
    cluster.kubectl("annotate", "enginebuild", build, "-n", namespace, "e2e/poke=1")
    until = time.monotonic() + 15
    while time.monotonic() < until:
        assert cluster.get("job", job_name, namespace) is None, "the operator re-created a finished build's Job"
        time.sleep(0.5)
    after = wait_row(cluster, "EngineBuild", build, namespace, "eb-succeeded")
    for key in ("phase", "message", "completionTime", "durationSeconds", "enginePath"):
        assert after["status"].get(key) == done["status"].get(key), key
