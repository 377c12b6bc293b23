"""Install paths on the test bed's real API server: `helm template | kubectl apply --dry-run=server`, `helm install`
into a namespace enforcing Pod Security `restricted`, `kubectl apply -k manifests/`, and what the chart's
ServiceAccount may do (`kubectl auth can-i --list`). The operator image cannot run here: kwok plays its pods,
so these tests prove admission and objects; test_install_rbac.py runs the operator under the chart's identity."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import CHART, helm, of_kind, template_text
from tests.support.cluster import Cluster, wait_for
from tests.support.install import (
    SAMPLE_FILE,
    admin_operator_paused,  # noqa: F401 - a fixture, used by name
    apply_docs,
    can_i_rows,
    forbidden_lines,
    release_name,
    run_as,
    wait_phase,
)
from tests.support.samples import REPO_ROOT

pytestmark = pytest.mark.usefixtures("admin_operator_paused")
RESTRICTED = "pod-security.kubernetes.io/enforce=restricted"
KUSTOMIZE_NAMESPACE = "inference-operator"
MONITORING_CRDS = ("monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml")


def dry_run(cluster: Cluster, text: str) -> str:
    return cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=text).stdout


def test_default_rendering_passes_server_side_dry_run(cluster: Cluster, namespace: str) -> None:
    text = template_text(release=release_name("dry"), namespace=namespace, crds=True)
    out = dry_run(cluster, text)
    for kind in ("serviceaccount", "clusterrole", "clusterrolebinding", "service", "deployment"):
        assert f"{kind}" in out.lower()


def test_namespaced_ha_rendering_passes_server_side_dry_run(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    values = {
        "watchNamespaces": [namespace],
        "ha": {"enabled": True},
        "networkPolicy": {"enabled": True, "allowedNamespaces": ["gateway"]},
        "grafanaDashboard": {"enabled": True},
    }
    docs = [
        d
        for d in yaml.safe_load_all(
            template_text(values, release=release_name("dry"), namespace=namespace, crds=True, workdir=tmp_path)
        )
        if d
    ]
    # The peering CRDs must exist for the ClusterKopfPeering to be checked: install them for real.
    crds = [d for d in of_kind(docs, "CustomResourceDefinition") if d["spec"]["group"] == "kopf.dev"]
    apply_docs(cluster, crds, "--server-side")
    for crd in crds:
        cluster.wait_established(crd["metadata"]["name"])
    rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    out = dry_run(cluster, yaml.safe_dump_all(rest))
    assert "clusterkopfpeering.kopf.dev" in out and "statefulset.apps" in out and "networkpolicy" in out


@pytest.fixture
def monitoring_crds(cluster: Cluster) -> Iterator[None]:
    """ServiceMonitor and PrometheusRule CRDs of the pinned prometheus-operator, removed again if we added them."""
    folder = Path(
        subprocess.run(
            ["bash", str(REPO_ROOT / "testbed" / "monitoring-crds.sh")],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout.strip()
    )
    added = []
    for name in MONITORING_CRDS:
        crd = f"crd/{name.split('_')[1].removesuffix('.yaml')}.monitoring.coreos.com"
        if cluster.kubectl("get", crd, check=False).returncode != 0:
            cluster.kubectl("apply", "--server-side", "-f", str(folder / name))
            added.append(crd)
        cluster.wait_established(crd.removeprefix("crd/"))
    yield
    for crd in added:
        cluster.kubectl("delete", crd, "--wait=false", check=False)


@pytest.mark.usefixtures("monitoring_crds")
def test_monitoring_objects_pass_their_crds_schemas(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    values = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}
    text = template_text(values, release=release_name("mon"), namespace=namespace, workdir=tmp_path)
    out = dry_run(cluster, text)
    assert "servicemonitor.monitoring.coreos.com" in out and "prometheusrule.monitoring.coreos.com" in out


def pods_created(cluster: Cluster, namespace: str, selector: str, count: int) -> list[dict[str, Any]]:
    """The controller's pods, Running (kwok plays the kubelet); a FailedCreate fails at once with its reason."""

    def probe() -> list[dict[str, Any]] | None:
        refused = [e["message"] for e in cluster.items("events", namespace) if e.get("reason") == "FailedCreate"]
        assert not refused, f"the controller could not create the operator's pods: {refused}"
        pods = cluster.items("pods", namespace, selector)
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return running if len(running) == count else None

    return wait_for(f"{count} operator pod(s) Running in {namespace}", probe, timeout=90)


def assert_restricted_is_enforced(cluster: Cluster, namespace: str) -> None:
    """The control: a pod that breaks `restricted` is refused in the same namespace, so admission is real."""
    bad = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    proc = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert proc.returncode != 0 and "violates PodSecurity" in proc.stderr, proc.stderr


@pytest.fixture
def helm_release(cluster: Cluster, namespace: str) -> Iterator[str]:
    cluster.kubectl("label", "namespace", namespace, RESTRICTED, "pod-security.kubernetes.io/warn=restricted")
    release = release_name("helm")
    yield release
    helm("uninstall", release, "-n", namespace, "--wait", "--timeout=60s", kubeconfig=cluster.kubeconfig, check=False)


def test_helm_install_is_admitted_under_restricted(cluster: Cluster, namespace: str, helm_release: str) -> None:
    helm(
        "install", helm_release, str(CHART), "-n", namespace, "--wait", "--timeout=120s", kubeconfig=cluster.kubeconfig
    )
    selector = f"app.kubernetes.io/instance={helm_release},app.kubernetes.io/component=operator"
    (pod,) = pods_created(cluster, namespace, selector, 1)
    assert pod["spec"]["serviceAccountName"] == f"{helm_release}-inference-operator"
    assert pod["spec"]["containers"][0]["args"] == ["run", "--all-namespaces"]
    assert_restricted_is_enforced(cluster, namespace)
    status = json.loads(
        helm("status", helm_release, "-n", namespace, "-o", "json", kubeconfig=cluster.kubeconfig).stdout
    )
    assert status["info"]["status"] == "deployed"


def test_helm_install_ha_gives_each_replica_its_own_priority(
    cluster: Cluster, namespace: str, helm_release: str
) -> None:
    """kopf freezes replicas of equal priority: each pod's priority comes from its StatefulSet pod index."""
    helm(
        "install",
        helm_release,
        str(CHART),
        "-n",
        namespace,
        "--set",
        "ha.enabled=true",
        "--wait",
        "--timeout=120s",
        kubeconfig=cluster.kubeconfig,
    )
    selector = f"app.kubernetes.io/instance={helm_release},app.kubernetes.io/component=operator"
    pods = pods_created(cluster, namespace, selector, 2)
    assert sorted(p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] for p in pods) == ["0", "1"]
    for pod in pods:
        assert "--priority=$(POD_INDEX)" in pod["spec"]["containers"][0]["args"]
    assert cluster.get("pdb", f"{helm_release}-inference-operator", namespace) is not None
    assert cluster.get("clusterkopfpeering", f"{helm_release}-inference-operator", "") is not None


def test_service_account_can_do_nothing_wild_and_read_no_secret(
    cluster: Cluster, namespace: str, helm_release: str
) -> None:
    helm("install", helm_release, str(CHART), "-n", namespace, kubeconfig=cluster.kubeconfig)
    user = f"system:serviceaccount:{namespace}:{helm_release}-inference-operator"
    rows = can_i_rows(cluster, user, namespace)
    resource_rows = [r for r in rows if r[0]]
    assert any(r[0] == "inferencedeployments.inference-operator.dev/status" and r[3] == "[patch]" for r in rows)
    for resources, _, names, verbs in resource_rows:
        assert "*" not in resources + names + verbs, (resources, verbs)
        assert not resources.startswith("secrets"), resources
    # Non-resource URLs such as [/api/*] are discovery, granted to every authenticated user: read-only.
    assert all(r[3] == "[get]" for r in rows if not r[0]), rows
    for verb in ("get", "list", "watch"):
        answer = cluster.kubectl("auth", "can-i", verb, "secrets", f"--as={user}", "-A", check=False).stdout.strip()
        assert answer == "no", f"{verb} secrets: {answer}"
    for verb, resource in (
        ("delete", "inferencedeployments.inference-operator.dev"),
        ("patch", "nodes"),
        ("create", "pods"),
        ("escalate", "clusterroles"),
    ):
        answer = cluster.kubectl("auth", "can-i", verb, resource, f"--as={user}", "-A", check=False).stdout.strip()
        assert answer == "no", f"{verb} {resource}: {answer}"


@pytest.fixture
def kustomize_install(cluster: Cluster) -> Iterator[list[dict[str, Any]]]:
    built = [d for d in yaml.safe_load_all(cluster.kubectl("kustomize", str(REPO_ROOT / "manifests")).stdout) if d]
    ours = [d for d in built if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "Namespace")]
    # Only what this test creates is removed: never an install that was there before (a real cluster's).
    fresh = [d for d in ours if cluster.get(d["kind"].lower(), d["metadata"]["name"], "") is None]
    yield built
    # Not the CRDs: every other test's resources live in them.
    for d in fresh:
        cluster.kubectl("delete", d["kind"].lower(), d["metadata"]["name"], "--wait=false", check=False)


def test_kubectl_apply_k_installs_the_operator(
    cluster: Cluster, namespace: str, kustomize_install: list[dict[str, Any]], tmp_path: Path
) -> None:
    out = cluster.kubectl("apply", "-k", str(REPO_ROOT / "manifests")).stdout
    assert "deployment.apps/inference-operator" in out
    assert not [d for d in kustomize_install if d["kind"] == "InferenceDeployment"]
    labels = (cluster.get("namespace", KUSTOMIZE_NAMESPACE, "") or {})["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    (pod,) = pods_created(cluster, KUSTOMIZE_NAMESPACE, "app.kubernetes.io/component=operator", 1)
    assert pod["spec"]["serviceAccountName"] == "inference-operator"
    assert_restricted_is_enforced(cluster, KUSTOMIZE_NAMESPACE)
    # Applying again changes nothing: the base is stable.
    again = cluster.kubectl("apply", "-k", str(REPO_ROOT / "manifests")).stdout
    assert all(line.endswith("unchanged") for line in again.splitlines()), again
    # The base's identity runs the operator (here limited to the test's namespace) to a Ready sample.
    proc = run_as(cluster, KUSTOMIZE_NAMESPACE, "inference-operator", tmp_path, ("--namespace", namespace))
    try:
        cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(SAMPLE_FILE))
        wait_phase(cluster, "infd", "qwen-small", namespace, "Ready", proc)
        assert forbidden_lines(proc.log()) == []
    finally:
        proc.stop()
