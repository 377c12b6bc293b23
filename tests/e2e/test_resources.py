"""No rendered GPU pod is BestEffort (issue 14): every engine pod and build Job of every sample, rendered by the
operator's CLI, is created as a Pod in a server-side dry-run on the test bed's API server, which computes the
pod's QoS class (status.qosClass) from its requests and limits."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from inference_operator.api.labels import GPU_RESOURCE
from tests.support.cluster import Cluster
from tests.support.samples import SAMPLES_DIR

SAMPLES = sorted(p.stem for p in SAMPLES_DIR.glob("*.yaml"))
DEADLINE_SECONDS = 60.0


def rendered_pods(sample: str, namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """(Kind/name, Pod) for each pod template the operator renders for the sample."""
    argv = [sys.executable, "-m", "inference_operator.cli", "render", "-f", str(SAMPLES_DIR / f"{sample}.yaml")]
    out = subprocess.run([*argv, "-o", "json"], capture_output=True, text=True, timeout=120, check=True)
    pods: list[tuple[str, dict[str, Any]]] = []
    for obj in json.loads(out.stdout)["items"]:
        template = (obj.get("spec") or {}).get("template")
        if obj["kind"] not in ("Deployment", "Job") or template is None:
            continue
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"qos-{len(pods)}", "namespace": namespace},
            "spec": {**template["spec"], "serviceAccountName": "default"},
        }
        if obj["kind"] == "Deployment":
            pod["spec"]["restartPolicy"] = "Always"
        pods.append((name, pod))
    return pods


def gpus(pod: dict[str, Any]) -> int:
    return sum(
        int((c.get("resources") or {}).get("limits", {}).get(GPU_RESOURCE, 0)) for c in pod["spec"]["containers"]
    )


def dry_run_qos(cluster: Cluster, pod: dict[str, Any]) -> str:
    """The QoS class the API server gives the pod (retried while the namespace's default ServiceAccount is made)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        proc = cluster.kubectl(
            "create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(pod), check=False
        )
        if proc.returncode == 0:
            return str(json.loads(proc.stdout)["status"]["qosClass"])
        if "serviceaccount" not in proc.stderr.lower() or time.monotonic() > deadline:
            raise AssertionError(f"dry-run of {pod['metadata']['name']} failed: {proc.stderr.strip()}")
        time.sleep(0.5)


@pytest.mark.parametrize("sample", SAMPLES)
def test_no_rendered_gpu_pod_is_best_effort(cluster: Cluster, namespace: str, sample: str) -> None:
    pods = rendered_pods(sample, namespace)
    assert pods, f"{sample} renders no pod"
    classes = {name: dry_run_qos(cluster, pod) for name, pod in pods}
    gpu_pods = [name for name, pod in pods if gpus(pod) > 0]
    if sample != "cpu-small":
        assert gpu_pods, f"{sample} renders no GPU pod"
    assert not [name for name in gpu_pods if classes[name] == "BestEffort"], classes
    assert all(c in ("Burstable", "Guaranteed") for c in classes.values()), classes
