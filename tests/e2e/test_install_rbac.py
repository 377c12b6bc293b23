"""The operator process under the chart's own identity (a ServiceAccount token, no admin): it reconciles samples
end to end, a verb taken out of its Role breaks it, it never writes what the user owns, and Argo CD's health
checks read the statuses it really writes."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.argocd import health
from tests.support.chart import CHART, helm, of_kind, one, template
from tests.support.cluster import Cluster, wait_for
from tests.support.install import (
    SAMPLE_FILE,
    TRTLLM_BODY,
    admin_operator_paused,  # noqa: F401 - a fixture, used by name
    apply_docs,
    delete_cluster_scoped,
    forbidden_lines,
    identity_docs,
    phase,
    release_name,
    run_as,
    wait_phase,
)
from tests.support.operator_process import OperatorProcess

pytestmark = pytest.mark.usefixtures("admin_operator_paused")
SAMPLE: dict[str, Any] = yaml.safe_load(SAMPLE_FILE.read_text())
NAME = SAMPLE["metadata"]["name"]


@pytest.fixture(scope="module")
def helm_identity(cluster: Cluster) -> Iterator[tuple[str, str]]:
    """`helm install` of the chart (cluster-wide mode) into its own namespace: (namespace, ServiceAccount)."""
    ns = f"infop-helm-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    release = release_name("rbac")
    helm("install", release, str(CHART), "-n", ns, kubeconfig=cluster.kubeconfig)
    yield ns, f"{release}-inference-operator"
    helm("uninstall", release, "-n", ns, kubeconfig=cluster.kubeconfig, check=False)
    cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def chart_operator(cluster: Cluster, helm_identity: tuple[str, str], tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator, every namespace, authenticated as the release's ServiceAccount (one per test, so that it
    never overlaps the namespaced runs below)."""
    ns, sa = helm_identity
    proc = run_as(cluster, ns, sa, tmp_path, ("--all-namespaces",))
    yield proc
    proc.stop()


def server_side_apply(cluster: Cluster, body: dict[str, Any], namespace: str, *extra: str) -> str:
    """As a user or a GitOps tool applies: server-side, field manager `kubectl`."""
    return cluster.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", *extra, input=yaml.safe_dump(body)
    ).stdout


def test_sample_reaches_ready_under_the_chart_identity(
    cluster: Cluster, namespace: str, chart_operator: OperatorProcess
) -> None:
    server_side_apply(cluster, SAMPLE, namespace)
    obj = wait_phase(cluster, "infd", NAME, namespace, "Ready", chart_operator)
    assert health(obj) == ("Healthy", obj["status"]["message"])
    assert cluster.get("deployment", f"{NAME}-vllm", namespace) is not None
    assert cluster.get("service", NAME, namespace) is not None
    # Routine progress is the status' to tell (the Ready condition's lastTransitionTime), not an Event's.
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["lastTransitionTime"]
    assert not [e for e in cluster.events(namespace, NAME) if e["reason"] in ("Deploying", "Ready")]
    assert forbidden_lines(chart_operator.log()) == []


def managed_by_others(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in obj["metadata"]["managedFields"] if m["manager"] != "kubectl"]


def get_with_managed_fields(cluster: Cluster, namespace: str) -> dict[str, Any]:
    out = cluster.kubectl("get", "infd", NAME, "-n", namespace, "-o", "json", "--show-managed-fields").stdout
    result: dict[str, Any] = json.loads(out)
    return result


def test_converged_sample_does_not_drift(cluster: Cluster, namespace: str, chart_operator: OperatorProcess) -> None:
    server_side_apply(cluster, SAMPLE, namespace)
    wait_phase(cluster, "infd", NAME, namespace, "Ready", chart_operator)
    obj = get_with_managed_fields(cluster, namespace)
    meta = obj["metadata"]
    assert not meta.get("annotations") and not meta.get("labels") and not meta.get("finalizers"), meta
    # The operator (and kopf) own fields of the status subresource only.
    assert managed_by_others(obj) and all(m.get("subresource") == "status" for m in managed_by_others(obj))

    def unchanged_dry_run() -> tuple[dict[str, Any], dict[str, Any]] | None:
        before = get_with_managed_fields(cluster, namespace)
        dry = json.loads(
            server_side_apply(cluster, SAMPLE, namespace, "--dry-run=server", "-o", "json", "--show-managed-fields")
        )
        after = get_with_managed_fields(cluster, namespace)
        same = before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
        return (after, dry) if same else None  # a status write in between: read again

    live, dry = wait_for("a quiet moment to compare a dry-run apply", unchanged_dry_run, timeout=30)
    assert dry["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    assert dry["metadata"]["generation"] == live["metadata"]["generation"]
    assert dry["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    assert dry == live
    diff = cluster.kubectl("diff", "--server-side", "-n", namespace, "-f", str(SAMPLE_FILE), check=False)
    assert diff.returncode == 0 and diff.stdout == "", diff.stdout + diff.stderr


def test_argocd_sees_stale_then_suspended(cluster: Cluster, namespace: str, chart_operator: OperatorProcess) -> None:
    server_side_apply(cluster, SAMPLE, namespace)
    wait_phase(cluster, "infd", NAME, namespace, "Ready", chart_operator)
    chart_operator.stop()  # the spec changes while nobody reconciles: the status describes the old generation
    scaled = copy.deepcopy(SAMPLE)
    scaled["spec"]["replicas"] = 0
    server_side_apply(cluster, scaled, namespace)
    stale = cluster.get("infd", NAME, namespace) or {}
    assert stale["status"]["phase"] == "Ready"
    assert stale["status"]["observedGeneration"] < stale["metadata"]["generation"]
    assert health(stale)[0] == "Progressing"
    chart_operator.start()
    obj = wait_phase(cluster, "infd", NAME, namespace, "Suspended", chart_operator)
    assert health(obj)[0] == "Suspended"
    # The chart identity may create Events: suspending is no routine step, so it gets one.
    assert [e for e in cluster.events(namespace, NAME) if e["reason"] == "Suspended"]


def test_engine_build_under_the_chart_identity(
    cluster: Cluster, namespace: str, chart_operator: OperatorProcess
) -> None:
    """Jobs, the engine store claim and EngineBuilds (create, status) are covered too."""
    name = TRTLLM_BODY["metadata"]["name"]
    server_side_apply(cluster, TRTLLM_BODY, namespace)
    key = wait_for(
        "the EngineBuild's name in status.build",
        lambda: (cluster.status("infd", name, namespace).get("build") or {}).get("key"),
        timeout=60,
    )
    build = wait_phase(cluster, "enginebuild", key, namespace, "Succeeded", chart_operator)
    assert health(build) == ("Healthy", build["status"]["message"])
    assert cluster.get("pvc", "inference-engine-store", namespace) is not None
    # vLLM serves while the engine builds; then the Service cuts over to TensorRT-LLM.
    obj = wait_for(
        "the cut-over to TensorRT-LLM",
        lambda: (
            (o := cluster.get("infd", name, namespace))
            and (o.get("status") or {}).get("engine", {}).get("active") == "tensorrt-llm"
            and o
        ),
        timeout=120,
    )
    assert obj["status"]["phase"] == "Ready"
    assert health(obj)[0] == "Healthy"
    assert forbidden_lines(chart_operator.log()) == []


@pytest.fixture
def operator_namespace(cluster: Cluster) -> Iterator[str]:
    name = f"infop-op-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespaced_docs(
    cluster: Cluster, namespace: str, operator_namespace: str, tmp_path: Path
) -> Iterator[list[dict[str, Any]]]:
    """The chart rendered in namespaced mode with HA: Role and RoleBinding in the watched namespace, the
    peering ClusterRole, the peering CRDs and ClusterKopfPeering. Cluster-scoped objects are removed after."""
    values = {"watchNamespaces": [namespace], "ha": {"enabled": True}}
    docs = template(values, release=release_name("ns"), namespace=operator_namespace, crds=True, workdir=tmp_path)
    yield docs
    delete_cluster_scoped(cluster, docs)
    for peering in of_kind(docs, "ClusterKopfPeering"):
        cluster.kubectl("delete", "clusterkopfpeering", peering["metadata"]["name"], "--wait=false", check=False)


def test_namespaced_ha_identity_reconciles_with_peering(
    cluster: Cluster, namespace: str, operator_namespace: str, namespaced_docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    docs = namespaced_docs
    crds = [d for d in of_kind(docs, "CustomResourceDefinition") if d["spec"]["group"] == "kopf.dev"]
    apply_docs(cluster, crds, "--server-side")
    for crd in crds:
        cluster.wait_established(crd["metadata"]["name"])
    peering = one(docs, "ClusterKopfPeering")
    apply_docs(cluster, [*identity_docs(docs), peering])
    sa = one(docs, "ServiceAccount")["metadata"]["name"]
    args = ("--namespace", namespace, "--peering", peering["metadata"]["name"], "--priority", "1")
    proc = run_as(cluster, operator_namespace, sa, tmp_path, args)
    try:
        server_side_apply(cluster, SAMPLE, namespace)
        wait_phase(cluster, "infd", NAME, namespace, "Ready", proc)
        peers = (cluster.get("clusterkopfpeering", peering["metadata"]["name"], "") or {}).get("status") or {}
        assert any(p.get("priority") == 1 for p in peers.values()), peers
        assert forbidden_lines(proc.log()) == []
    finally:
        proc.stop()


@pytest.fixture
def cluster_scoped(cluster: Cluster) -> Iterator[list[dict[str, Any]]]:
    """Objects a test applies; their cluster-scoped ones (ClusterRole, ClusterRoleBinding) are deleted after."""
    applied: list[dict[str, Any]] = []
    yield applied
    delete_cluster_scoped(cluster, applied)


def test_a_missing_verb_breaks_the_reconcile(
    cluster: Cluster,
    namespace: str,
    operator_namespace: str,
    cluster_scoped: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """The Role without `patch` on inferencedeployments/status: everything else works, the status never moves."""
    docs = identity_docs(
        template(
            {"watchNamespaces": [namespace]},
            release=release_name("neg"),
            namespace=operator_namespace,
            workdir=tmp_path,
        )
    )
    role = one(docs, "Role")
    for rule in role["rules"]:
        if "inferencedeployments/status" in rule["resources"]:
            rule["resources"].remove("inferencedeployments/status")
    cluster_scoped.extend(docs)
    apply_docs(cluster, docs)
    proc = run_as(
        cluster,
        operator_namespace,
        one(docs, "ServiceAccount")["metadata"]["name"],
        tmp_path,
        ("--namespace", namespace),
    )
    try:
        server_side_apply(cluster, SAMPLE, namespace)
        wait_for(
            "the API server refusing the status patch",
            lambda: any(
                'cannot patch resource "inferencedeployments/status"' in line for line in forbidden_lines(proc.log())
            ),
        )
        assert cluster.get("deployment", f"{NAME}-vllm", namespace) is not None  # the rest of the reconcile ran
        with pytest.raises(AssertionError, match="timed out"):
            wait_for(
                "phase Ready (it must not come)", lambda: phase(cluster, "infd", NAME, namespace) == "Ready", timeout=15
            )
        assert cluster.status("infd", NAME, namespace).get("phase") is None
    finally:
        proc.stop()
