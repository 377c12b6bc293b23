"""What the install tests share: the chart's identity as a kubeconfig, the operator run under it, samples."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import RBAC_KINDS, template
from tests.support.cluster import Cluster, wait_for
from tests.support.operator_process import OperatorProcess
from tests.support.samples import SAMPLES_DIR

SAMPLE_FILE = SAMPLES_DIR / "small-model.yaml"
RBAC_DENIAL = re.compile(r'cannot \w+ resource "[^"]+"')
# A TensorRT-LLM resource on one H100: an EngineBuild, its Job and the engine store claim, besides vLLM serving.
TRTLLM_BODY: dict[str, Any] = {
    "apiVersion": "inference-operator.dev/v1alpha1",
    "kind": "InferenceDeployment",
    "metadata": {"name": "llama-trt"},
    "spec": {
        "model": {"name": "meta-llama/Llama-3.1-8B-Instruct", "architecture": "LlamaForCausalLM"},
        "engine": {"preference": "tensorrt-llm", "fallback": "vllm", "tensorrtLLM": {"backend": "engine"}},
        "resources": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
    },
}


@pytest.fixture(scope="module")
def admin_operator_paused(operator: OperatorProcess) -> Iterator[None]:
    """The session's operator runs as cluster admin and watches every namespace: while it runs, a sample
    could reach Ready through it, and a missing verb in the chart would go unnoticed. It is stopped for
    these tests and started again after them."""
    operator.stop()
    yield
    operator.start()


def release_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:5]}"


def apply_docs(cluster: Cluster, docs: list[dict[str, Any]], *extra: str) -> str:
    return cluster.kubectl("apply", *extra, "-f", "-", input=yaml.safe_dump_all(docs)).stdout


def identity_docs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ServiceAccount and RBAC objects of a rendering: the operator's identity, without its pod."""
    return [d for d in docs if d["kind"] in RBAC_KINDS]


def render_identity(values: dict[str, Any], release: str, namespace: str, workdir: Path) -> list[dict[str, Any]]:
    return identity_docs(template(values, release=release, namespace=namespace, workdir=workdir))


def delete_cluster_scoped(cluster: Cluster, docs: list[dict[str, Any]]) -> None:
    for d in docs:
        if d["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            cluster.kubectl("delete", d["kind"].lower(), d["metadata"]["name"], "--ignore-not-found", check=False)


def token_kubeconfig(cluster: Cluster, namespace: str, service_account: str, path: Path) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount with a freshly minted token, as a pod would."""
    token = cluster.kubectl("create", "token", service_account, "-n", namespace, "--duration=2h").stdout.strip()
    admin = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    server = admin["clusters"][0]["cluster"]
    cluster_entry: dict[str, Any] = {"server": server["server"]}
    if "certificate-authority-data" in server:
        cluster_entry["certificate-authority-data"] = server["certificate-authority-data"]
    elif "certificate-authority" in server:
        ca = Path(server["certificate-authority"]).read_bytes()
        cluster_entry["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster_entry}],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "cluster", "user": service_account}}],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def run_as(
    cluster: Cluster, namespace: str, service_account: str, workdir: Path, args: tuple[str, ...]
) -> OperatorProcess:
    """`inference-operator run` authenticated as the ServiceAccount, not as the admin."""
    kubeconfig = token_kubeconfig(cluster, namespace, service_account, workdir / "kubeconfig")
    identity = Cluster(kubeconfig=kubeconfig, kubectl_bin=cluster.kubectl_bin)
    whoami = json.loads(identity.kubectl("auth", "whoami", "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:{service_account}"
    proc = OperatorProcess(identity, workdir, args=args)
    proc.start()
    return proc


def phase(cluster: Cluster, kind: str, name: str, namespace: str) -> str | None:
    value = cluster.status(kind, name, namespace).get("phase")
    return str(value) if value else None


def wait_phase(
    cluster: Cluster, kind: str, name: str, namespace: str, wanted: str, proc: OperatorProcess, timeout: float = 90
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = cluster.get(kind, name, namespace)
        return obj if obj and (obj.get("status") or {}).get("phase") == wanted else None

    try:
        obj = wait_for(f"{kind} {namespace}/{name} in phase {wanted}", probe, timeout=timeout)
        if kind == "infd" and wanted == "Ready":
            wait_for("the process under test exporting it Ready", lambda: reports_ready(proc, namespace, name), 15)
        return obj
    except AssertionError as exc:
        raise AssertionError(f"{exc}\noperator log (end):\n{proc.log()[-3000:]}") from None


def reports_ready(proc: OperatorProcess, namespace: str, name: str) -> bool:
    """Whether this very process exports the resource as Ready: the work was its own, not another operator's."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("inference_operator_inference_deployment_ready{") and line.endswith(" 1.0"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            if labels.get("namespace") == namespace and labels.get("name") == name:
                return True
    return False


def forbidden_lines(log: str) -> list[str]:
    """Log lines where RBAC refused the operator something ("User ... cannot patch resource ...")."""
    return [line for line in log.splitlines() if RBAC_DENIAL.search(line)]


def can_i_rows(cluster: Cluster, user: str, namespace: str) -> list[list[str]]:
    """`kubectl auth can-i --list` as rows of [resources, non-resource URLs, resource names, verbs]."""
    out = cluster.kubectl("auth", "can-i", "--list", f"--as={user}", "-n", namespace).stdout
    header, *lines = out.splitlines()
    # Columns are aligned with spaces and the first is blank on non-resource rows: cut at the header's offsets.
    starts = [header.index(title) for title in ("Resources", "Non-Resource URLs", "Resource Names", "Verbs")]
    bounds = [*starts[1:], None]
    return [[line[a:b].strip() for a, b in zip(starts, bounds, strict=True)] for line in lines if line.strip()]
