"""Precompile (issue 21): EngineBuilds a platform team applies itself, ahead of the InferenceDeployments.

On the test bed's kwok GPU nodes a build Job's pod is simulated (Running for TESTBED_POD_RUN_MS, then Succeeded):
what is real is the control plane, the scheduler's verdicts, the claim's provisioning, the operator's status and
Events. The EngineBuild applied is the one `inference-operator render --engine-builds` prints, run as a user runs
it (a subprocess).
"""

from __future__ import annotations

import time
from typing import Any

import yaml

from inference_operator.api.labels import GPU_PRODUCT_LABEL, GPU_RESOURCE, LABEL_BUILD
from inference_operator.render.common import container_security_context, pod_security_context
from tests.e2e.test_trtllm import build_jobs, create_token_secret, free_gpus, sample, trt_body
from tests.support.cluster import Cluster
from tests.support.gitops_tools import argocd_health, kstatus
from tests.support.operator_process import OperatorProcess
from tests.support.samples import SAMPLES_DIR, cli_render
from tests.support.serving import H100, TRT, condition, event_reasons, served_by, wait_for

A100 = "NVIDIA-A100-SXM4-80GB"
A100_PER_NODE = 4


def render_engine_builds(namespace: str, path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(cli_render("--engine-builds", "-n", namespace, "-f", path)) if d]


def build_status(cluster: Cluster, name: str, namespace: str) -> dict[str, Any]:
    return cluster.status("enginebuild", name, namespace)


class BuildWatch:
    """Samples an EngineBuild's status next to its pod, so every step's claim can be checked against the pod."""

    def __init__(self, cluster: Cluster, name: str, namespace: str) -> None:
        self.cluster, self.name, self.namespace = cluster, name, namespace
        self.samples: list[tuple[str | None, str, str | None]] = []  # (phase, message, pod phase read after)

    def sample(self) -> dict[str, Any]:
        status = build_status(self.cluster, self.name, self.namespace)
        pods = self.cluster.items("pods", self.namespace, f"{LABEL_BUILD}={self.name}")
        pod_phase = max(pods, key=lambda p: p["metadata"]["creationTimestamp"])["status"].get("phase") if pods else None
        self.samples.append((status.get("phase"), str(status.get("message") or ""), pod_phase))
        return status

    def until(self, what: str, done: Any, timeout: float = 180) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            status = self.sample()
            return status if done(status) else None

        return wait_for(what, probe, timeout, interval=0.2)

    def assert_phases_in_order(self) -> None:
        phases = [phase for phase, _, _ in self.samples if phase]
        assert phases == sorted(phases, key=["Pending", "Building", "Succeeded"].index), self.samples

    def assert_never_compiling_before_the_pod_ran(self) -> None:
        for phase, message, pod_phase in self.samples:
            if phase == "Pending":
                assert "compiling" not in message, self.samples
            if phase == "Building":
                # The status was read before the pod: the pod had started by then (Running, or done since).
                assert pod_phase in ("Running", "Succeeded"), self.samples


def test_a_precompiled_engine_build_serves_the_resource_at_once_without_vllm_or_a_second_build(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    path = str(SAMPLES_DIR / "llama-3-1-70b-h100-trtllm.yaml")
    builds = render_engine_builds(namespace, path)
    assert [b["kind"] for b in builds] == ["EngineBuild"]
    name = builds[0]["metadata"]["name"]
    wait_for("8 free H100 GPUs (another test may hold some)", lambda: free_gpus(cluster, H100) >= 8, 300, 2)
    create_token_secret(cluster, namespace)
    assert cluster.get("pvc", "inference-engine-store", namespace) is None

    cluster.apply(builds[0], namespace)
    watch = BuildWatch(cluster, name, namespace)
    status = watch.until("the precompiled build Succeeded", lambda s: s.get("phase") == "Succeeded")
    watch.assert_never_compiling_before_the_pod_ran()

    claim = cluster.get("pvc", "inference-engine-store", namespace)
    assert claim is not None and not claim["metadata"].get("ownerReferences"), claim
    assert claim["status"].get("phase") == "Bound", claim["status"]
    assert [j["metadata"]["name"] for j in build_jobs(cluster, namespace)] == [status["jobName"]]
    assert status["expectedDuration"] == "1h" and "buildingSince" not in status, status
    assert condition(status, "Succeeded")["status"] == "True"
    watch.assert_phases_in_order()
    # Events are best effort and a reconcile retried under load may skip a phase, so only their order is held.
    reasons = [r for _, r in event_reasons(cluster, namespace, name) if r.startswith("Build")]
    assert reasons and reasons[-1] == "BuildSucceeded", reasons
    assert reasons == sorted(reasons, key=["BuildPending", "BuildBuilding", "BuildSucceeded"].index), reasons

    # The resource arrives afterwards: TensorRT-LLM at once, no vLLM Deployment at any moment, no second build.
    body = sample("llama-3-1-70b-h100-trtllm")
    infd = body["metadata"]["name"]
    wait_for("8 free H100 GPUs for serving", lambda: free_gpus(cluster, H100) >= 8, 300, 2)
    cluster.apply(body, namespace)
    vllm_seen: list[str] = []

    def ready_on_trtllm() -> dict[str, Any] | None:
        if cluster.get("deployment", f"{infd}-vllm", namespace) is not None:
            vllm_seen.append(f"{infd}-vllm")
        return served_by(cluster, infd, namespace, TRT)

    served = wait_for(f"{infd} Ready on TensorRT-LLM", ready_on_trtllm, 180)
    assert not vllm_seen, "a vLLM bridge was started for an engine that was already built"
    assert served["build"]["key"] == name and condition(served, "EngineBuilt")["status"] == "True"
    assert [j["metadata"]["name"] for j in build_jobs(cluster, namespace)] == [status["jobName"]]
    assert [e["metadata"]["name"] for e in cluster.items("enginebuilds", namespace)] == [name]
    trt = cluster.get("deployment", f"{infd}-trtllm", namespace)
    assert trt is not None and trt["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == name
    assert ("Normal", "CutOver") not in event_reasons(cluster, namespace, infd)


def gpu_hog(product: str, replicas: int, gpus: int) -> dict[str, Any]:
    """Pods holding every GPU of a product, as another team's workload would."""
    labels = {"app": "gpu-hog"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gpu-hog"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": pod_security_context(),
                    "nodeSelector": {GPU_PRODUCT_LABEL: product},
                    "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [
                        {
                            "name": "hog",
                            "image": "registry.k8s.io/pause:3.10",
                            "resources": {"limits": {GPU_RESOURCE: gpus}},
                            "securityContext": container_security_context(),
                        }
                    ],
                },
            },
        },
    }


def one_gpu_build(cluster: Cluster, namespace: str, product: str, tmp: Any) -> str:
    body = trt_body("one-gpu")
    body["spec"]["resources"]["gpuProduct"] = product
    path = tmp / "one-gpu.yaml"
    path.write_text(yaml.safe_dump(body))
    builds = render_engine_builds(namespace, str(path))
    cluster.apply(builds[0], namespace)
    return str(builds[0]["metadata"]["name"])


def test_a_build_with_no_free_gpu_is_pending_with_the_schedulers_reason_then_builds_once_one_frees(
    cluster: Cluster, operator: OperatorProcess, namespace: str, tmp_path: Any
) -> None:
    nodes = [n for n in cluster.items("nodes", "default") if n["metadata"]["labels"].get(GPU_PRODUCT_LABEL) == A100]
    cluster.apply(gpu_hog(A100, len(nodes), A100_PER_NODE), namespace)
    wait_for("every A100 held", lambda: free_gpus(cluster, A100) == 0, 120, 1)
    create_token_secret(cluster, namespace)
    name = one_gpu_build(cluster, namespace, A100, tmp_path)
    watch = BuildWatch(cluster, name, namespace)
    # The scheduler's first verdict may be about the store claim, not bound yet ("pod has unbound immediate
    # PersistentVolumeClaims", seen in a full run): the status follows its latest verdict, so wait for the GPUs'.
    status = watch.until(
        "the scheduler's reason (no free GPU) in the build's status",
        lambda s: (
            s.get("conditions")
            and condition(s, "Succeeded")["reason"] == "Unschedulable"
            and "Insufficient nvidia.com/gpu" in str(s.get("message"))
        ),
    )
    assert status["phase"] == "Pending", status
    assert "cannot be scheduled: 0/" in status["message"]
    deadline = time.monotonic() + 5  # it stays so: nothing frees a GPU
    while time.monotonic() < deadline:
        assert watch.sample()["phase"] == "Pending"
        time.sleep(0.5)
    assert "buildingSince" not in build_status(cluster, name, namespace)

    cluster.kubectl("delete", "deployment", "gpu-hog", "-n", namespace)
    watch.until("the build Succeeded once a GPU freed", lambda s: s.get("phase") == "Succeeded")
    watch.assert_never_compiling_before_the_pod_ran()
    watch.assert_phases_in_order()
    assert [r for _, r in event_reasons(cluster, namespace, name)].count("BuildBuilding") <= 1


B200 = "NVIDIA-B200"  # a product none of the test bed's nodes has (testbed/nodes.yaml)
B200_NODE = "kwok-b200-e2e"
RECHECK_TIMER = "on_build_waiting_for_a_node"  # runtime/handlers.py


def resource_version(cluster: Cluster, kind: str, name: str, namespace: str) -> str:
    obj = cluster.get(kind, name, namespace)
    assert obj is not None, f"no {kind} {name}"
    return str(obj["metadata"]["resourceVersion"])


def kwok_gpu_node(name: str, product: str, gpus: int) -> dict[str, Any]:
    """A GPU node kwok simulates, labelled and tainted as the test bed's own (testbed/nodes.yaml)."""
    resources = {"cpu": "192", "memory": "2000Gi", "pods": "110", "ephemeral-storage": "2Ti", GPU_RESOURCE: str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok", GPU_PRODUCT_LABEL: product},
        },
        "spec": {"taints": [{"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}]},
        "status": {"allocatable": resources, "capacity": resources},
    }


def test_a_build_for_a_gpu_product_no_node_has_gets_no_job_and_names_the_field_until_a_node_joins(
    cluster: Cluster, operator: OperatorProcess, namespace: str, tmp_path: Any
) -> None:
    assert cluster.get("node", B200_NODE, "default") is None
    assert not [n for n in cluster.items("nodes", "default") if n["metadata"]["labels"].get(GPU_PRODUCT_LABEL) == B200]
    create_token_secret(cluster, namespace)
    name = one_gpu_build(cluster, namespace, B200, tmp_path)
    watch = BuildWatch(cluster, name, namespace)
    status = watch.until(
        "the missing product named",
        lambda s: s.get("conditions") and condition(s, "Succeeded")["reason"] == "NoNodeWithGPUProduct",
    )
    assert status["phase"] == "Pending", status
    message = status["message"]
    assert message.startswith(f"spec.gpuProduct: no node in the cluster has GPU product {B200}"), status
    assert condition(status, "Reconciling")["status"] == "True" and condition(status, "Stalled")["status"] == "False"
    assert ("Warning", "NoNodeWithGPUProduct") in event_reasons(cluster, namespace, name)
    live = cluster.get("enginebuild", name, namespace)
    assert live is not None and kstatus(live)[0] == "InProgress" and argocd_health(live)[0] == "Progressing"
    deadline = time.monotonic() + 5  # it stays so, and still no Job: no node has the product
    while time.monotonic() < deadline:
        assert watch.sample()["phase"] == "Pending"
        assert build_jobs(cluster, namespace) == []
        time.sleep(0.5)
    assert cluster.get("pvc", "inference-engine-store", namespace) is None
    # The operator looks again (a kopf timer, every 30 s) and, nothing having changed, writes nothing.
    looked = f"Timer '{RECHECK_TIMER}' succeeded"
    looks, version = operator.log().count(looked), resource_version(cluster, "enginebuild", name, namespace)
    wait_for("the operator's next look", lambda: operator.log().count(looked) > looks, 120, 1)
    assert resource_version(cluster, "enginebuild", name, namespace) == version
    assert build_jobs(cluster, namespace) == []

    # A node with the product joins: the next look (every 30 s) creates the Job, and the build runs on it.
    cluster.apply(kwok_gpu_node(B200_NODE, B200, 8), "default")
    try:
        watch.until("the build Succeeded once a B200 node joined", lambda s: s.get("phase") == "Succeeded", 240)
        (job,) = build_jobs(cluster, namespace)
        assert job["spec"]["template"]["spec"]["nodeSelector"] == {GPU_PRODUCT_LABEL: B200}
        pods = cluster.items("pods", namespace, f"{LABEL_BUILD}={name}")
        assert pods and {p["spec"].get("nodeName") for p in pods} == {B200_NODE}, pods
    finally:
        cluster.kubectl("delete", "node", B200_NODE, "--ignore-not-found", "--wait=false")
    watch.assert_never_compiling_before_the_pod_ran()
    watch.assert_phases_in_order()
    assert [r for _, r in event_reasons(cluster, namespace, name)].count("NoNodeWithGPUProduct") == 1


def test_an_engine_build_the_operator_cannot_build_gets_a_condition_naming_the_field_and_no_job(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    builds = render_engine_builds(namespace, str(SAMPLES_DIR / "llama-3-1-70b-h100-trtllm.yaml"))
    bad = builds[0]
    bad["metadata"]["name"] = "not-an-engine"
    bad["spec"]["image"] = "vllm/vllm-openai:v0.32.0"
    cluster.apply(bad, namespace)

    def refused() -> dict[str, Any] | None:
        status = build_status(cluster, "not-an-engine", namespace)
        return status if status.get("phase") == "Failed" else None

    status = wait_for("the refusal", refused)
    cond = condition(status, "Succeeded")
    assert (cond["status"], cond["reason"]) == ("False", "InvalidSpec") and cond["message"].startswith("spec.image")
    assert ("Warning", "BuildFailed") in event_reasons(cluster, namespace, "not-an-engine")
    assert build_jobs(cluster, namespace) == []
    assert cluster.get("pvc", "inference-engine-store", namespace) is None
