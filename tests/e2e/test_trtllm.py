"""The TensorRT-LLM path on the real control plane (issue 4): cached, shared engine builds as Jobs, vLLM serving
while compiling, zero-gap cut-overs, fallback on failure, and an operator that can be killed at any moment.

kwok completes a build Job's pod after ~3 s. A failed build is forced without any test hook in the operator:
the test creates the build Job itself, under the deterministic name the operator would give it, with the test
bed's failure switch on its pod template; the operator finds it (create-if-absent) and records its failure.
Bodies other than the 70B sample use one GPU per engine, so tests fit beside other sessions on the test bed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.labels import GPU_PRODUCT_LABEL, GPU_RESOURCE, LABEL_BUILD
from inference_operator.api.settings import from_env
from inference_operator.render.build_job import build_owner_reference, render_build_job
from inference_operator.render.engine_build import render_engine_build
from inference_operator.render.engine_key import build_job_name
from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.samples import SAMPLES_DIR
from tests.support.serving import (
    H100,
    TRT,
    VLLM,
    ServingWatch,
    condition,
    deployments,
    event_reasons,
    phase_is,
    served_by,
    wait_for,
    wait_served,
)

FAIL_SWITCH = "testbed.inference-operator.dev/fail"
RUN_FOR = "testbed.inference-operator.dev/run-for"
FAKE_TOKEN = "hf_e2e_fake_token_value_0123456789"


# Bodies and names


def trt_body(name: str, quantization: str = "fp8", **engine: Any) -> dict[str, Any]:
    """A one-GPU TensorRT-LLM resource: the engine path of the 70B sample at a size that fits beside others."""
    return {
        "apiVersion": "inference-operator.dev/v1alpha1",
        "kind": "InferenceDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "meta-llama/Llama-3.1-8B-Instruct", "architecture": "LlamaForCausalLM"},
            "engine": {"preference": TRT, "fallback": "vllm", **engine},
            "precision": {"dtype": "bfloat16", "quantization": quantization},
            "parallelism": {"tensor": 1},
            "resources": {"gpuProduct": H100},
        },
    }


def sample(name: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / f"{name}.yaml").read_text())
    return body


def expected_engine_build(body: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The EngineBuild the operator will want for `body`, computed by the operator's own pure code."""
    wire = copy.deepcopy(body)
    wire["metadata"]["namespace"] = namespace
    return render_engine_build(InferenceDeployment.model_validate(wire), from_env().store)


def planted_build_job(body: dict[str, Any], namespace: str, fail: bool, run_for: str) -> dict[str, Any]:
    """The build Job the operator would create for `body`, with test-bed switches on its pods: `fail` ends them
    Failed, `run_for` is how long they run.

    No owner reference: the EngineBuild does not exist yet. The operator adopts the Job by its name.
    """
    eb = expected_engine_build(body, namespace)
    eb["metadata"]["uid"] = "to-be-created"
    job = render_build_job(EngineBuild.model_validate(eb), from_env().store)
    del job["metadata"]["ownerReferences"]
    switches = {RUN_FOR: run_for} | ({FAIL_SWITCH: "true"} if fail else {})
    job["spec"]["template"]["metadata"]["annotations"] = switches
    return job


def create_token_secret(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "secret", "generic", "hf-token", "-n", namespace, f"--from-literal=HF_TOKEN={FAKE_TOKEN}")


# Reads


def build_jobs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return cluster.items("jobs", namespace, LABEL_BUILD)


def engine_builds(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return cluster.items("enginebuilds", namespace)


def eb_phase(cluster: Cluster, name: str, namespace: str) -> str | None:
    phase = cluster.status("enginebuild", name, namespace).get("phase")
    return str(phase) if phase else None


def job_complete(job: dict[str, Any] | None) -> bool:
    conds = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conds)


def cut_overs(cluster: Cluster, namespace: str, name: str) -> list[str]:
    """The engines the Service was moved to, from the operator's CutOver Events, oldest first."""
    events = sorted(cluster.events(namespace, name), key=lambda e: int(e["metadata"]["resourceVersion"]))
    prefix = "The Service now routes to "
    return [str(e["message"])[len(prefix) :].rstrip(".") for e in events if e.get("reason") == "CutOver"]


def free_gpus(cluster: Cluster, product: str) -> int:
    """GPUs of `product` nodes that no scheduled, unfinished pod of any namespace holds."""
    nodes = [n for n in cluster.items("nodes", "default") if n["metadata"]["labels"].get(GPU_PRODUCT_LABEL) == product]
    names = {n["metadata"]["name"] for n in nodes}
    total = sum(int(n["status"]["allocatable"].get(GPU_RESOURCE, 0)) for n in nodes)
    pods = json.loads(cluster.kubectl("get", "pods", "--all-namespaces", "-o", "json").stdout)["items"]
    held = sum(
        int(c.get("resources", {}).get("limits", {}).get(GPU_RESOURCE, 0))
        for p in pods
        if p["spec"].get("nodeName") in names and p["status"].get("phase") not in ("Succeeded", "Failed")
        for c in p["spec"]["containers"]
    )
    return total - held


def ensure_running(operator: OperatorProcess) -> None:
    if operator.proc is None or operator.proc.poll() is not None:
        operator.start()


def adopt(cluster: Cluster, namespace: str, job_name: str, eb_name: str) -> None:
    """Give a Job the test created the owner reference the operator would have given it."""
    eb = cluster.get("enginebuild", eb_name, namespace)
    assert eb is not None
    owner = build_owner_reference(EngineBuild.model_validate({k: v for k, v in eb.items() if k != "status"}))
    patch = json.dumps({"metadata": {"ownerReferences": [owner]}})
    cluster.kubectl("patch", "job", job_name, "-n", namespace, "--type=merge", "-p", patch)


def assert_one_build_of_the_key(cluster: Cluster, namespace: str, eb_name: str, build_phases: list[str]) -> None:
    # The build: one EngineBuild named after the key, Building then Succeeded, one Job on 8 H100s. The cut-over
    # can land within one poll of the build's end, so the phase is read once more after the wait.
    final_phase = eb_phase(cluster, eb_name, namespace)
    if final_phase and build_phases[-1:] != [final_phase]:
        build_phases.append(final_phase)
    assert build_phases == sorted(build_phases, key=["Pending", "Building", "Succeeded"].index), build_phases
    assert build_phases[-1] == "Succeeded"
    assert [e["metadata"]["name"] for e in engine_builds(cluster, namespace)] == [eb_name]
    eb_reasons = [r for _, r in event_reasons(cluster, namespace, eb_name)]
    assert "BuildBuilding" in eb_reasons and "BuildSucceeded" in eb_reasons, eb_reasons
    assert eb_reasons.index("BuildBuilding") < eb_reasons.index("BuildSucceeded")
    jobs = build_jobs(cluster, namespace)
    assert [j["metadata"]["name"] for j in jobs] == [build_job_name(eb_name)]
    job = jobs[0]
    assert job["metadata"]["ownerReferences"][0]["kind"] == "EngineBuild"
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"][GPU_PRODUCT_LABEL] == H100
    assert int(pod["containers"][0]["resources"]["limits"][GPU_RESOURCE]) == 8
    assert job_complete(job)


def assert_served_by_the_built_engine(
    cluster: Cluster, namespace: str, name: str, eb_name: str, status: dict[str, Any]
) -> None:
    # Serving: status, the condition, the Deployment on the built engine; vLLM gone.
    assert status["build"] == {"key": eb_name, "phase": "Succeeded", "message": status["build"]["message"]}
    assert condition(status, "EngineBuilt")["status"] == "True"
    assert condition(status, "Ready")["status"] == "True"
    trt = cluster.get("deployment", f"{name}-trtllm", namespace)
    assert trt is not None and cluster.get("deployment", f"{name}-vllm", namespace) is None
    assert trt["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == eb_name
    assert int(trt["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][GPU_RESOURCE]) == 8
    assert ("Normal", "CutOver") in event_reasons(cluster, namespace, name)


# 1, 2, 4, 5: the 70B sample end to end


def test_70b_sample_serves_vllm_while_compiling_then_cuts_over_without_a_gap(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = sample("llama-3-1-70b-h100-trtllm")
    name = body["metadata"]["name"]
    # Its peak is 16 H100s: vLLM (8) serves while the build (8) runs, then vLLM serves while TensorRT-LLM starts.
    wait_for(
        "16 free H100 GPUs on the test bed (another session may hold some)",
        lambda: free_gpus(cluster, H100) >= 16,
        timeout=300,
        interval=2,
    )
    create_token_secret(cluster, namespace)
    eb_name = expected_engine_build(body, namespace)["metadata"]["name"]
    cluster.apply(body, namespace)

    watch = ServingWatch(cluster, name, namespace)
    build_phases: list[str] = []
    interim: list[dict[str, Any]] = []

    def cut_over() -> dict[str, Any] | None:
        phase = eb_phase(cluster, eb_name, namespace)
        if phase and (not build_phases or build_phases[-1] != phase):
            build_phases.append(phase)
        status = cluster.status("infd", name, namespace)
        if (status.get("engine") or {}).get("active") == VLLM and status.get("build", {}).get("phase") != "Succeeded":
            interim.append(status)
        return served_by(cluster, name, namespace, TRT)

    status = watch.until("the cut-over to TensorRT-LLM", cut_over)
    watch.assert_never_without_endpoint()
    assert watch.engines() == [VLLM, TRT], watch.samples
    assert interim, "status never showed vLLM active while the engine was building"
    assert interim[0]["build"]["key"] == eb_name

    assert_one_build_of_the_key(cluster, namespace, eb_name, build_phases)
    assert_served_by_the_built_engine(cluster, namespace, name, eb_name, status)


# 1: sharing


def test_second_resource_with_the_same_engine_settings_reuses_the_build(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    cluster.apply(trt_body("first"), namespace)
    first = wait_served(cluster, "first", namespace, TRT)
    cluster.apply(trt_body("second"), namespace)
    second = wait_served(cluster, "second", namespace, TRT)

    assert second["build"]["key"] == first["build"]["key"]
    assert len(engine_builds(cluster, namespace)) == 1
    assert len(build_jobs(cluster, namespace)) == 1
    assert condition(second, "EngineBuilt")["status"] == "True"


def test_two_resources_created_at_the_same_instant_get_one_build(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    twins = [trt_body("twin-a"), trt_body("twin-b")]
    cluster.apply(yaml.safe_dump_all(twins), namespace)  # one kubectl apply: both created back to back
    wait_for(
        "both on TensorRT-LLM",
        lambda: served_by(cluster, "twin-a", namespace, TRT) and served_by(cluster, "twin-b", namespace, TRT),
    )
    assert len(engine_builds(cluster, namespace)) == 1
    assert len(build_jobs(cluster, namespace)) == 1


# 7: changes


@pytest.mark.parametrize("strategy", ["RollingUpdate", "Recreate"])
def test_quantization_change_builds_once_and_the_old_engine_serves_until_the_cut_over(
    cluster: Cluster, operator: OperatorProcess, namespace: str, strategy: str
) -> None:
    """RollingUpdate: the Deployment's rollout keeps the old engine's pods until the new ones are Ready, so the
    Service never leaves TensorRT-LLM. Recreate (the 70B sample's) stops the old pods first: vLLM comes up and
    takes the traffic before the Deployment moves to the new engine."""
    body = trt_body("quant", quantization="fp8")
    body["spec"]["serving"] = {"rollout": {"strategy": strategy}}
    cluster.apply(body, namespace)
    old_key = wait_served(cluster, "quant", namespace, TRT)["build"]["key"]

    body["spec"]["precision"]["quantization"] = "int4-awq"
    new_key = expected_engine_build(body, namespace)["metadata"]["name"]
    assert new_key != old_key
    watch = ServingWatch(cluster, "quant", namespace)
    watch.sample()
    cut_overs_before = len(cut_overs(cluster, namespace, "quant"))
    cluster.apply(body, namespace)
    vllm_seen: list[str] = []

    def on_new_engine() -> dict[str, Any] | None:
        if cluster.get("deployment", "quant-vllm", namespace) is not None:
            vllm_seen.append("quant-vllm")
        status = served_by(cluster, "quant", namespace, TRT)
        if not status or status["build"]["key"] != new_key or status["build"]["phase"] != "Succeeded":
            return None
        trt = cluster.get("deployment", "quant-trtllm", namespace)
        assert trt is not None
        return status if trt["spec"]["template"]["metadata"]["labels"].get(LABEL_BUILD) == new_key else None

    status = watch.until("the int4-awq engine serving", on_new_engine)
    watch.until_only("the fp8 engine's pods gone", {new_key})
    watch.assert_never_without_endpoint()
    trt_samples = [s.builds for s in watch.samples if s.ready and s.engine == TRT]
    assert trt_samples[0] == {old_key} and trt_samples[-1] == {new_key}, watch.samples
    assert all(b <= {old_key, new_key} for b in trt_samples)
    first_new = next(i for i, b in enumerate(trt_samples) if new_key in b)
    assert all(new_key in b for b in trt_samples[first_new:]), "traffic went back to the old engine"
    # The Service's moves, as the operator recorded them (the samples may miss a short vLLM spell on kwok).
    moves = cut_overs(cluster, namespace, "quant")[cut_overs_before:]
    if strategy == "RollingUpdate":
        assert watch.engines() == [TRT] and moves == [], "the Service left TensorRT-LLM during the rebuild"
        assert not vllm_seen, "a vLLM Deployment was started although the old engine kept serving"
    else:
        assert moves == [VLLM, TRT], moves
        assert set(watch.engines()) <= {TRT, VLLM}
        assert cluster.get("deployment", "quant-vllm", namespace) is None

    assert sorted(e["metadata"]["name"] for e in engine_builds(cluster, namespace)) == sorted([old_key, new_key])
    assert len(build_jobs(cluster, namespace)) == 2
    assert condition(status, "EngineBuilt")["status"] == "True"


def test_replicas_and_env_changes_never_rebuild(cluster: Cluster, operator: OperatorProcess, namespace: str) -> None:
    body = trt_body("steady")
    cluster.apply(body, namespace)
    before = wait_served(cluster, "steady", namespace, TRT)

    body["spec"]["replicas"] = 2
    body["spec"]["engine"]["tensorrtLLM"] = {"env": [{"name": "E2E_MARKER", "value": "changed"}]}
    body["spec"]["engine"]["vllm"] = {"env": [{"name": "E2E_MARKER", "value": "changed"}]}
    cluster.apply(body, namespace)
    vllm_seen: list[str] = []

    def rolled() -> dict[str, Any] | None:
        if cluster.get("deployment", "steady-vllm", namespace) is not None:
            vllm_seen.append("steady-vllm")
        status = served_by(cluster, "steady", namespace, TRT)
        if not status or status["observedGeneration"] <= before["observedGeneration"]:
            return None
        return status if status["readyReplicas"] == 2 else None

    after = wait_for("two replicas with the new env", rolled, interval=0.1)
    assert not vllm_seen, "a vLLM Deployment was started for a change that needs no build"
    trt = cluster.get("deployment", "steady-trtllm", namespace)
    assert trt is not None
    env = {e["name"]: e.get("value") for e in trt["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env.get("E2E_MARKER") == "changed"
    assert trt["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == before["build"]["key"]
    assert after["build"]["key"] == before["build"]["key"]
    assert len(engine_builds(cluster, namespace)) == 1
    assert len(build_jobs(cluster, namespace)) == 1


# 6: fall back


def test_failed_build_falls_back_to_vllm_with_the_jobs_reason(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("failing", tensorrtLLM={"buildBackoffLimit": 0})
    job = planted_build_job(body, namespace, fail=True, run_for="8s")
    cluster.apply(job, namespace)
    cluster.apply(body, namespace)

    status = wait_served(cluster, "failing", namespace, VLLM, "Degraded")
    built = condition(status, "EngineBuilt")
    assert built["status"] == "False"
    assert built["reason"] == "BackoffLimitExceeded", built  # the Job's own reason
    assert job["metadata"]["name"] in built["message"]
    assert status["build"]["phase"] == "Failed"
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "ServingFallback")
    assert "BackoffLimitExceeded" in status["message"]
    assert eb_phase(cluster, status["build"]["key"], namespace) == "Failed"
    assert len(build_jobs(cluster, namespace)) == 1, "the operator created a second Job for a failed key"
    warnings = [r for t, r in event_reasons(cluster, namespace, "failing") if t == "Warning"]
    assert "EngineBuildFailed" in warnings, warnings


def test_failed_build_without_fallback_fails_with_an_actionable_message(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("no-fallback", fallback="none", tensorrtLLM={"buildBackoffLimit": 0})
    job = planted_build_job(body, namespace, fail=True, run_for="8s")
    cluster.apply(job, namespace)
    cluster.apply(body, namespace)

    status = wait_for("Failed", lambda: phase_is(cluster, "no-fallback", namespace, "Failed"))
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "EngineUnavailable")
    for needle in (job["metadata"]["name"], "BackoffLimitExceeded", "spec.engine.fallback"):
        assert needle in status["message"], status["message"]
    assert condition(status, "EngineBuilt")["status"] == "False"
    wait_for("no serving Deployment left", lambda: deployments(cluster, "no-fallback", namespace) == [])
    assert ("Warning", "Failed") in event_reasons(cluster, namespace, "no-fallback")


def test_unsupported_architecture_falls_back_to_vllm_without_a_build(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("exotic")
    body["spec"]["model"] = {"name": "ai21labs/AI21-Jamba-Mini-1.6", "architecture": "JambaForCausalLM"}
    cluster.apply(body, namespace)

    status = wait_served(cluster, "exotic", namespace, VLLM, "Degraded")
    assert "JambaForCausalLM" in status["message"]
    assert condition(status, "Ready")["reason"] == "ServingFallback"
    assert status["engine"]["selected"] == TRT
    assert "build" not in status
    assert engine_builds(cluster, namespace) == []
    assert build_jobs(cluster, namespace) == []


# 8: restart safety


def test_operator_killed_right_after_creating_the_job_converges_with_one_job(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("restart")
    job_name = build_job_name(expected_engine_build(body, namespace)["metadata"]["name"])
    cluster.apply(body, namespace)
    try:
        wait_for("the build Job", lambda: cluster.get("job", job_name, namespace), interval=0.05)
        operator.kill()
        wait_for(
            "the Job to finish while the operator is down",
            lambda: job_complete(cluster.get("job", job_name, namespace)),
        )
        operator.start()
        status = wait_served(cluster, "restart", namespace, TRT)
    finally:
        ensure_running(operator)
    assert [j["metadata"]["name"] for j in build_jobs(cluster, namespace)] == [job_name]
    assert eb_phase(cluster, status["build"]["key"], namespace) == "Succeeded"
    assert condition(status, "EngineBuilt")["status"] == "True"


def test_operator_killed_while_the_job_finishes_records_the_result_on_restart(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("finishing")
    eb_name = expected_engine_build(body, namespace)["metadata"]["name"]
    # A Job the operator adopts by name, slow enough that it finishes only once the operator is gone.
    job = planted_build_job(body, namespace, fail=False, run_for="20s")
    cluster.apply(job, namespace)
    cluster.apply(body, namespace)
    try:
        wait_for("the build recorded as Building", lambda: eb_phase(cluster, eb_name, namespace) == "Building")
        adopt(cluster, namespace, job["metadata"]["name"], eb_name)
        wait_for(
            "vLLM serving meanwhile",
            lambda: (
                served_by(cluster, "finishing", namespace, VLLM, "Deploying")
                or served_by(cluster, "finishing", namespace, VLLM, "Ready")
            ),
        )
        operator.kill()
        assert not job_complete(cluster.get("job", job["metadata"]["name"], namespace)), "the Job was already done"
        wait_for(
            "the Job to finish while the operator is down",
            lambda: job_complete(cluster.get("job", job["metadata"]["name"], namespace)),
        )
        assert eb_phase(cluster, eb_name, namespace) == "Building"
        operator.start()
        status = wait_served(cluster, "finishing", namespace, TRT)
    finally:
        ensure_running(operator)
    eb_status = cluster.status("enginebuild", eb_name, namespace)
    assert eb_status["phase"] == "Succeeded" and eb_status.get("completionTime"), eb_status
    assert len(build_jobs(cluster, namespace)) == 1
    assert condition(status, "EngineBuilt")["status"] == "True"


# 3: the engine store and deletion


def test_deleting_the_resource_keeps_the_build_its_job_and_the_store(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("short-lived")
    eb_name = expected_engine_build(body, namespace)["metadata"]["name"]
    job = planted_build_job(body, namespace, fail=False, run_for="25s")
    job_name = job["metadata"]["name"]
    cluster.apply(job, namespace)
    cluster.apply(body, namespace)
    wait_for("the build recorded as Building", lambda: eb_phase(cluster, eb_name, namespace) == "Building")
    adopt(cluster, namespace, job_name, eb_name)
    wait_for("the resource serving", lambda: cluster.get("deployment", "short-lived-vllm", namespace))

    cluster.kubectl("delete", "infd", "short-lived", "-n", namespace, "--wait=true", "--timeout=60s")
    wait_for(
        "its Deployments and Service gone",
        lambda: (
            not deployments(cluster, "short-lived", namespace)
            and cluster.get("service", "short-lived", namespace) is None
        ),
    )
    store = from_env().store.claim_name
    assert cluster.get("enginebuild", eb_name, namespace) is not None
    assert cluster.get("pvc", store, namespace) is not None
    running = cluster.get("job", job_name, namespace)
    assert running is not None and not job_complete(running), "the build Job should still be running"

    # The build finishes and its result is recorded for whoever comes next.
    wait_for("the build Succeeded", lambda: eb_phase(cluster, eb_name, namespace) == "Succeeded")
    assert cluster.get("pvc", store, namespace) is not None
    cluster.apply(body, namespace)
    wait_served(cluster, "short-lived", namespace, TRT)
    assert len(build_jobs(cluster, namespace)) == 1


# 4: the PyTorch backend


def test_pytorch_backend_cuts_over_from_vllm_without_a_build(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("torch")
    body["spec"]["engine"] = {"preference": VLLM}
    cluster.apply(body, namespace)
    wait_served(cluster, "torch", namespace, VLLM)

    watch = ServingWatch(cluster, "torch", namespace)
    watch.sample()
    body["spec"]["engine"] = {"preference": TRT, "tensorrtLLM": {"backend": "pytorch"}}
    cluster.apply(body, namespace)
    status = watch.until("the cut-over to TensorRT-LLM (PyTorch)", lambda: served_by(cluster, "torch", namespace, TRT))
    watch.assert_never_without_endpoint()
    assert watch.engines() == [VLLM, TRT]

    assert engine_builds(cluster, namespace) == [] and build_jobs(cluster, namespace) == []
    assert "build" not in status
    assert all(c["type"] != "EngineBuilt" for c in status["conditions"])
    trt = cluster.get("deployment", "torch-trtllm", namespace)
    assert trt is not None
    assert LABEL_BUILD not in trt["spec"]["template"]["metadata"]["labels"]
    args = trt["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["serve", "meta-llama/Llama-3.1-8B-Instruct"] and "pytorch" in args


# Issue 16, section 1: the recipe table keyed by the TensorRT-LLM version (api/trtllm_recipes.py)

# The first release without the engine backend in the recipe table. Like every TensorRT-LLM image, it runs as the
# STAND-IN OpenAI server here (testbed/agent/images.yaml maps nvcr.io/nvidia/tensorrt-llm/release:* to it): what
# these tests show is the operator's own choice from the tag (no build, the PyTorch command line, the row's
# options), not that TensorRT-LLM 1.3.0rc21 accepts that command line.
PYTORCH_ONLY_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc21"


def test_post_removal_image_serves_via_the_pytorch_backend_with_no_build(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = trt_body("post-removal", quantization="none")
    body["spec"]["engine"]["tensorrtLLM"] = {"image": PYTORCH_ONLY_IMAGE}  # backend left to the row: pytorch
    cluster.apply(body, namespace)
    status = wait_served(cluster, "post-removal", namespace, TRT)

    assert engine_builds(cluster, namespace) == [] and build_jobs(cluster, namespace) == []
    assert "build" not in status
    assert all(c["type"] != "EngineBuilt" for c in status["conditions"])
    trt = cluster.get("deployment", "post-removal-trtllm", namespace)
    assert trt is not None
    assert LABEL_BUILD not in trt["spec"]["template"]["metadata"]["labels"]
    engine = trt["spec"]["template"]["spec"]["containers"][0]
    assert engine["image"] == PYTORCH_ONLY_IMAGE
    args = engine["args"]
    assert args[:2] == ["serve", "meta-llama/Llama-3.1-8B-Instruct"]
    assert args[args.index("--backend") + 1] == "pytorch"
    assert "'enable_iter_perf_stats: true'" in engine["command"][2]  # the row's option for the KV-cache gauges
    assert all(v.get("persistentVolumeClaim") is None for v in trt["spec"]["template"]["spec"]["volumes"])


def test_engine_backend_on_a_post_removal_image_is_refused_by_the_api_server(cluster: Cluster, namespace: str) -> None:
    body = trt_body("no-engine-left", quantization="none")
    body["spec"]["engine"]["tensorrtLLM"] = {"image": PYTORCH_ONLY_IMAGE, "backend": "engine"}
    refused = cluster.apply(body, namespace, check=False)
    assert refused.returncode != 0
    assert "spec.engine.tensorrtLLM.backend: engine does not exist in TensorRT-LLM 1.3.0rc21" in refused.stderr
    assert cluster.get("infd", "no-engine-left", namespace) is None

    # The override says what a custom image is: the same pair is refused by it, and admitted once it says 1.2.x
    # (a server-side dry run: admission, CEL included, without creating anything that would start a build).
    body["spec"]["engine"]["tensorrtLLM"] = {"image": "registry.example.com/trtllm:custom", "backend": "engine"}
    body["spec"]["engine"]["tensorrtLLM"]["recipe"] = "1.3.0rc21+"
    refused = cluster.apply(body, namespace, "--dry-run=server", check=False)
    assert refused.returncode != 0 and "spec.engine.tensorrtLLM.backend" in refused.stderr
    body["spec"]["engine"]["tensorrtLLM"]["recipe"] = "1.2.x"
    cluster.apply(body, namespace, "--dry-run=server")
