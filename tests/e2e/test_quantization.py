"""Quantization built once, served by either engine (issue 16 §2) on the real control plane.

On the test bed's kwok H100 nodes a quantization Job's pod is simulated (Running, then Succeeded): what is real is
the control plane, the operator's EngineBuild (kind Quantization), the single Job shared by a vLLM and a
TensorRT-LLM resource, their serving Deployments, the Service's endpoints through the cut-overs, statuses and
Events. The Job is planted by the test under the deterministic name the operator gives it, with the test bed's
`run-for` switch on its pod (long enough to see the unquantized model serve meanwhile), or its failure switch;
the operator finds it (create-if-absent). The ModelOpt script itself runs for real in
tests/unit/render/test_quantize_script.py.
"""

from __future__ import annotations

import copy
from typing import Any

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.labels import LABEL_BUILD
from inference_operator.api.settings import from_env
from inference_operator.render.build_job import render_build_job
from inference_operator.render.engine_build import render_quantization_build
from inference_operator.render.engine_key import build_job_name
from tests.e2e.test_trtllm import FAIL_SWITCH, RUN_FOR, build_jobs, engine_builds, free_gpus
from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.quantization import A100, MODEL, calibrated_body
from tests.support.serving import H100, TRT, VLLM, ServingWatch, condition, event_reasons, served_by, wait_for


def body(name: str, engine: str, **kwargs: Any) -> dict[str, Any]:
    """A calibrated one-GPU resource as a user applies it (no namespace, no uid)."""
    manifest = calibrated_body(name, engine, **kwargs)
    manifest["metadata"] = {"name": name}
    return manifest


def expected_build(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The quantization EngineBuild the operator will want, from its own pure code."""
    wire = copy.deepcopy(manifest)
    wire["metadata"]["namespace"] = namespace
    return render_quantization_build(InferenceDeployment.model_validate(wire), from_env().store)


def planted_job(manifest: dict[str, Any], namespace: str, run_for: str, fail: bool = False) -> dict[str, Any]:
    eb = expected_build(manifest, namespace)
    eb["metadata"]["uid"] = "to-be-created"
    job = render_build_job(EngineBuild.model_validate(eb), from_env().store)
    del job["metadata"]["ownerReferences"]
    job["spec"]["template"]["metadata"]["annotations"] = {RUN_FOR: run_for} | ({FAIL_SWITCH: "true"} if fail else {})
    return job


def container_args(cluster: Cluster, name: str, namespace: str) -> list[str] | None:
    dep = cluster.get("deployment", name, namespace)
    if dep is None:
        return None
    args: list[str] = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_an_fp8_build_on_h100_is_one_job_shared_by_a_vllm_and_a_trtllm_resource_both_cut_over(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    wait_for("4 free H100 GPUs on the test bed", lambda: free_gpus(cluster, H100) >= 4, timeout=300, interval=2)
    on_vllm, on_trt = body("q-vllm", VLLM), body("q-trt", TRT)
    eb_name = expected_build(on_vllm, namespace)["metadata"]["name"]
    assert expected_build(on_trt, namespace)["metadata"]["name"] == eb_name  # one key for both engines
    cluster.apply(planted_job(on_vllm, namespace, run_for="25s"), namespace)
    cluster.apply(on_vllm, namespace)
    cluster.apply(on_trt, namespace)

    watches = {"q-vllm": ServingWatch(cluster, "q-vllm", namespace), "q-trt": ServingWatch(cluster, "q-trt", namespace)}
    interim: dict[str, list[list[str]]] = {"q-vllm": [], "q-trt": []}

    def both_cut_over() -> tuple[dict[str, Any], dict[str, Any]] | None:
        for name, watch in watches.items():
            watch.sample()
            status = cluster.status("infd", name, namespace)
            args = container_args(cluster, f"{name}-vllm", namespace)
            building = (status.get("build") or {}).get("phase") not in (None, "Succeeded")
            if building and (status.get("engine") or {}).get("active") == VLLM and args:
                interim[name].append(args)
        vllm_done = served_by(cluster, "q-vllm", namespace, VLLM)
        if vllm_done is None or (vllm_done.get("engine") or {}).get("path") != "Quantization":
            return None
        trt_done = served_by(cluster, "q-trt", namespace, TRT)
        return (vllm_done, trt_done) if trt_done is not None else None

    vllm_status, trt_status = wait_for("both resources on the quantized checkpoint", both_cut_over, 300, 0.2)
    for name, watch in watches.items():
        watch.sample()
        watch.assert_never_without_endpoint()
        # Meanwhile: vLLM on the unquantized model from the Hub, no --quantization.
        assert interim[name], f"{name}: never saw the unquantized model serve while the build ran"
        assert interim[name][0][0] == MODEL and "--quantization" not in interim[name][0], interim[name][0]
    assert watches["q-trt"].engines() == [VLLM, TRT], watches["q-trt"].samples
    assert_one_quantization_build(cluster, namespace, eb_name)
    assert_both_on_the_checkpoint(cluster, namespace, eb_name, vllm_status, trt_status)


def assert_one_quantization_build(cluster: Cluster, namespace: str, eb_name: str) -> None:
    # One EngineBuild of kind Quantization and one Job.
    builds = engine_builds(cluster, namespace)
    assert [(b["metadata"]["name"], b["spec"]["kind"]) for b in builds] == [(eb_name, "Quantization")]
    assert builds[0]["status"]["phase"] == "Succeeded"
    jobs = build_jobs(cluster, namespace)
    assert [j["metadata"]["name"] for j in jobs] == [build_job_name(eb_name)]
    # The test planted it (no owner yet); the operator never gives it to a resource.
    owners = jobs[0]["metadata"].get("ownerReferences") or []
    assert all(ref["kind"] == "EngineBuild" for ref in owners), owners


def assert_both_on_the_checkpoint(
    cluster: Cluster, namespace: str, eb_name: str, vllm_status: dict[str, Any], trt_status: dict[str, Any]
) -> None:
    checkpoint = f"{from_env().store.mount_path}/{eb_name}/checkpoint"
    for status in (vllm_status, trt_status):
        assert status["build"]["key"] == eb_name and status["build"]["phase"] == "Succeeded"
        assert status["engine"]["path"] == "Quantization"
        assert condition(status, "Quantized")["status"] == "True"
    vllm_args = container_args(cluster, "q-vllm-vllm", namespace)
    assert vllm_args is not None and vllm_args[0] == checkpoint
    assert vllm_args[vllm_args.index("--quantization") + 1] == "modelopt"
    trt_dep = cluster.get("deployment", "q-trt-trtllm", namespace)
    assert trt_dep is not None and trt_dep["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == eb_name
    assert trt_dep["spec"]["template"]["spec"]["containers"][0]["args"][1] == checkpoint
    assert cluster.get("deployment", "q-trt-vllm", namespace) is None
    assert ("Normal", "CutOver") in event_reasons(cluster, namespace, "q-trt")


def refused(cluster: Cluster, name: str, namespace: str) -> dict[str, Any] | None:
    status = cluster.status("infd", name, namespace)
    return status if status.get("phase") == "Failed" else None


def test_fp8_on_a100_is_refused_with_the_reason_and_nothing_runs(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    cluster.apply(body("fp8-a100", VLLM, gpu_product=A100), namespace)
    status = wait_for("the refusal", lambda: refused(cluster, "fp8-a100", namespace), 120)
    ready = condition(status, "Ready")
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith("spec.precision.quantization: fp8 needs compute capability 8.9 or higher")
    assert f"spec.resources.gpuProduct {A100} is Ampere (8.0)" in ready["message"]
    assert engine_builds(cluster, namespace) == [] and build_jobs(cluster, namespace) == []
    assert cluster.items("deployments", namespace) == []
    assert ("Warning", "InvalidSpec") in event_reasons(cluster, namespace, "fp8-a100")


def test_nvfp4_on_h100_is_refused_with_the_reason_and_nothing_runs(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    cluster.apply(body("nvfp4-h100", TRT, quantization="nvfp4", gpu_product=H100), namespace)
    status = wait_for("the refusal", lambda: refused(cluster, "nvfp4-h100", namespace), 120)
    message = condition(status, "Ready")["message"]
    assert message.startswith("spec.precision.quantization: nvfp4 needs compute capability 10.0 or higher")
    assert f"spec.resources.gpuProduct {H100} is Hopper (9.0)" in message
    assert engine_builds(cluster, namespace) == [] and cluster.items("deployments", namespace) == []


def test_a_failed_quantization_leaves_the_unquantized_model_serving_with_the_reason(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    manifest = body("q-fail", VLLM)
    manifest["spec"]["engine"]["tensorrtLLM"]["buildBackoffLimit"] = 0
    cluster.apply(planted_job(manifest, namespace, run_for="5s", fail=True), namespace)
    cluster.apply(manifest, namespace)

    status = wait_for(
        "vLLM Degraded on the fallback", lambda: served_by(cluster, "q-fail", namespace, VLLM, "Degraded")
    )
    quantized = condition(status, "Quantized")
    assert (quantized["status"], quantized["reason"]) == ("False", "BackoffLimitExceeded")
    assert condition(status, "Ready")["reason"] == "ServingFallback"
    assert status["engine"]["path"] == "None"
    args = container_args(cluster, "q-fail-vllm", namespace)
    assert args is not None and args[0] == MODEL and "--quantization" not in args
    assert len(build_jobs(cluster, namespace)) == 1
