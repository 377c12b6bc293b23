"""INT8 on the real control plane (issue 20): the TensorRT-LLM 1.2.x engine build quantizes to INT8 SmoothQuant.

On the test bed the build Job's pod runs on a kwok A100 node, which simulates it (Running, then Succeeded after
its `run-for`): the stand-in for a GPU build. What is real is the control plane, the operator's EngineBuild, the
Job (whose script carries quantize.py --qformat int8_sq, checked here, not run), the serving Deployments, the
Service's endpoints through the cut-overs, statuses and Events. The build Job is planted by the test under the
deterministic name the operator gives it, with the test bed's `run-for` switch, so vLLM is seen serving meanwhile.
"""

from __future__ import annotations

from typing import Any

from inference_operator.api.labels import LABEL_BUILD
from tests.e2e.test_trtllm import (
    build_jobs,
    cut_overs,
    engine_builds,
    expected_engine_build,
    free_gpus,
    planted_build_job,
    trt_body,
)
from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.quantization import A100
from tests.support.serving import TRT, VLLM, ServingWatch, condition, event_reasons, served_by, wait_for, wait_served

T4 = "Tesla-T4"


def int8_body(name: str, quantization: str = "int8", gpu_product: str = A100, **trt: Any) -> dict[str, Any]:
    """A one-GPU TensorRT-LLM resource of the 8B model on the engine backend, quantized by its engine build."""
    body = trt_body(name, quantization=quantization, tensorrtLLM={"backend": "engine"} | trt)
    body["spec"]["resources"]["gpuProduct"] = gpu_product
    return body


def job_script(job: dict[str, Any]) -> str:
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    return str(command[2])


def test_an_int8_resource_on_a100_builds_and_cuts_over_without_a_gap(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    wait_for("2 free A100 GPUs on the test bed", lambda: free_gpus(cluster, A100) >= 2, timeout=300, interval=2)
    body = int8_body("i8")
    eb_name = expected_engine_build(body, namespace)["metadata"]["name"]
    cluster.apply(planted_build_job(body, namespace, fail=False, run_for="20s"), namespace)
    cluster.apply(body, namespace)
    watch = ServingWatch(cluster, "i8", namespace)
    interim: list[list[str]] = []

    def cut_over() -> dict[str, Any] | None:
        status = cluster.status("infd", "i8", namespace)
        vllm = cluster.get("deployment", "i8-vllm", namespace)
        building = (status.get("build") or {}).get("phase") not in (None, "Succeeded")
        if building and vllm is not None:
            interim.append(vllm["spec"]["template"]["spec"]["containers"][0]["args"])
        return served_by(cluster, "i8", namespace, TRT)

    status = watch.until("the cut-over to the INT8 engine", cut_over)
    watch.assert_never_without_endpoint()
    assert watch.engines() == [VLLM, TRT], watch.samples
    # Meanwhile vLLM served the full-precision checkpoint the build quantizes: no compressed-tensors on it.
    assert interim, "never saw vLLM serve while the INT8 engine was building"
    assert interim[0][0] == "meta-llama/Llama-3.1-8B-Instruct" and "--quantization" not in interim[0], interim[0]

    assert status["build"]["key"] == eb_name and status["build"]["phase"] == "Succeeded"
    assert condition(status, "EngineBuilt")["status"] == "True"
    builds = engine_builds(cluster, namespace)
    assert [(b["metadata"]["name"], b["spec"]["quantization"], b["spec"]["gpuProduct"]) for b in builds] == [
        (eb_name, "int8", A100)
    ]
    jobs = build_jobs(cluster, namespace)
    assert len(jobs) == 1 and "--qformat int8_sq" in job_script(jobs[0])
    trt = cluster.get("deployment", "i8-trtllm", namespace)
    assert trt is not None and trt["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == eb_name
    assert cluster.get("deployment", "i8-vllm", namespace) is None
    assert ("Normal", "CutOver") in event_reasons(cluster, namespace, "i8")


def test_int8_to_int4_awq_builds_once_and_the_old_engine_serves_until_the_new_one_is_ready(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    body = int8_body("i8-to-awq")
    body["spec"]["serving"] = {"rollout": {"strategy": "RollingUpdate"}}
    cluster.apply(body, namespace)
    old_key = wait_served(cluster, "i8-to-awq", namespace, TRT)["build"]["key"]

    body["spec"]["precision"]["quantization"] = "int4-awq"
    new_key = expected_engine_build(body, namespace)["metadata"]["name"]
    assert new_key != old_key
    watch = ServingWatch(cluster, "i8-to-awq", namespace)
    watch.sample()
    moves_before = len(cut_overs(cluster, namespace, "i8-to-awq"))
    # The new build runs for a while, so the old engine is seen serving through it.
    cluster.apply(planted_build_job(body, namespace, fail=False, run_for="15s"), namespace)
    cluster.apply(body, namespace)
    vllm_seen: list[bool] = []

    def on_new_engine() -> dict[str, Any] | None:
        vllm_seen.append(cluster.get("deployment", "i8-to-awq-vllm", namespace) is not None)
        status = served_by(cluster, "i8-to-awq", namespace, TRT)
        if not status or status["build"]["key"] != new_key or status["build"]["phase"] != "Succeeded":
            return None
        trt = cluster.get("deployment", "i8-to-awq-trtllm", namespace)
        assert trt is not None
        return status if trt["spec"]["template"]["metadata"]["labels"].get(LABEL_BUILD) == new_key else None

    status = watch.until("the int4-awq engine serving", on_new_engine)
    watch.until_only("the int8 engine's pods gone", {new_key})
    watch.assert_never_without_endpoint()
    served = [s.builds for s in watch.samples if s.ready and s.engine == TRT]
    assert served[0] == {old_key} and served[-1] == {new_key}, watch.samples
    assert sum(1 for b in served if b == {old_key}) > 1, "the old engine was not seen serving during the rebuild"
    first_new = next(i for i, b in enumerate(served) if new_key in b)
    assert all(new_key in b for b in served[first_new:]), "traffic went back to the old engine"
    assert watch.engines() == [TRT] and cut_overs(cluster, namespace, "i8-to-awq")[moves_before:] == []
    assert not any(vllm_seen), "a vLLM Deployment was started although the old engine kept serving"
    # Built once: one new EngineBuild and one new Job beside the INT8 ones, which stay cached.
    assert sorted(e["metadata"]["name"] for e in engine_builds(cluster, namespace)) == sorted([old_key, new_key])
    assert len(build_jobs(cluster, namespace)) == 2
    assert condition(status, "EngineBuilt")["status"] == "True"


def refused(cluster: Cluster, name: str, namespace: str) -> dict[str, Any] | None:
    status = cluster.status("infd", name, namespace)
    return status if status.get("phase") == "Failed" else None


def test_unsupported_int8_combinations_are_refused_with_the_reason_and_nothing_runs(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    # A GPU older than Ampere: the engine build is refused before any Job.
    cluster.apply(int8_body("i8-t4", gpu_product=T4), namespace)
    # The PyTorch backend has no SmoothQuant linear method.
    cluster.apply(int8_body("i8-pytorch", backend="pytorch"), namespace)
    t4 = wait_for("the T4 refusal", lambda: refused(cluster, "i8-t4", namespace), 120)
    ready = condition(t4, "Ready")
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith("spec.precision.quantization: int8 needs compute capability 8.0 or higher")
    assert f"spec.resources.gpuProduct {T4} is Turing (7.5)" in ready["message"]
    pytorch = wait_for("the PyTorch-backend refusal", lambda: refused(cluster, "i8-pytorch", namespace), 120)
    message = condition(pytorch, "Ready")["message"]
    assert message.startswith("spec.precision.quantization: int8 (W8A8 SmoothQuant) is not served by TensorRT-LLM")
    assert engine_builds(cluster, namespace) == [] and build_jobs(cluster, namespace) == []
    assert cluster.items("deployments", namespace) == []
    assert ("Warning", "InvalidSpec") in event_reasons(cluster, namespace, "i8-t4")

    # int8 with calibration: refused by the API server itself (CEL), naming the field.
    calibrated = int8_body("i8-calibrated")
    calibrated["spec"]["precision"]["calibration"] = {"samples": 64}
    answer = cluster.apply(calibrated, namespace, check=False)
    assert answer.returncode != 0 and "spec.precision.calibration needs spec.precision.quantization" in answer.stderr
    assert cluster.get("infd", "i8-calibrated", namespace) is None
