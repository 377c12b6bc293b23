"""HA switched on by `helm upgrade` on the test bed's real API server: a default install, then
`helm upgrade --reuse-values --set ha.enabled=true`, as issue 14 reports failing before the peering CRDs moved
from crds/ (installed on first install only) into templates. kwok plays the operator's pods (no process
runs), so these tests assert on API objects: the StatefulSet's two pods, the peering CRDs and object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.chart import CHART, helm
from tests.support.cluster import Cluster, wait_for
from tests.support.install import release_name

PEERING_CRDS = ("clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev")
HELM_TIMEOUT = "--timeout=180s"


def operator_pods(cluster: Cluster, namespace: str, release: str, count: int) -> list[dict[str, Any]]:
    """The release's operator pods once `count` of them exist and kwok reports them Running."""
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=operator"

    def probe() -> list[dict[str, Any]] | None:
        pods = [p for p in cluster.items("pods", namespace, selector) if not p["metadata"].get("deletionTimestamp")]
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return running if len(pods) == count and len(running) == count else None

    return wait_for(f"{count} operator pod(s) of {release} Running", probe, timeout=120)


def remove_peering_crds(cluster: Cluster) -> None:
    """Back to a cluster that never had HA: the case where `helm upgrade` to HA used to fail."""
    for crd in PEERING_CRDS:
        cluster.kubectl("delete", "crd", crd, "--ignore-not-found", "--wait=false")
    wait_for(
        "kopf's peering CRDs gone",
        lambda: all(cluster.get("crd", crd, "") is None for crd in PEERING_CRDS) or None,
        timeout=120,
    )


@pytest.fixture
def releases(cluster: Cluster) -> Iterator[list[tuple[str, str]]]:
    """(release, namespace) pairs to uninstall afterwards, with the peering objects their hooks left."""
    made: list[tuple[str, str]] = []
    yield made
    for release, namespace in made:
        helm("uninstall", release, "-n", namespace, "--wait", HELM_TIMEOUT, kubeconfig=cluster.kubeconfig, check=False)
        cluster.kubectl(
            "delete", "clusterkopfpeering", f"{release}-inference-operator", "--ignore-not-found", check=False
        )


def test_default_install_then_upgrade_to_ha(cluster: Cluster, namespace: str, releases: list[tuple[str, str]]) -> None:
    remove_peering_crds(cluster)
    release = release_name("up")
    releases.append((release, namespace))
    full = f"{release}-inference-operator"
    helm("install", release, str(CHART), "-n", namespace, "--wait", HELM_TIMEOUT, kubeconfig=cluster.kubeconfig)
    operator_pods(cluster, namespace, release, 1)
    assert cluster.get("deployment", full, namespace) is not None
    assert cluster.get("crd", PEERING_CRDS[0], "") is None, "a default install brings no peering CRDs"

    upgrade = helm(
        "upgrade", release, str(CHART), "-n", namespace, "--reuse-values", "--set", "ha.enabled=true",
        "--wait", HELM_TIMEOUT, kubeconfig=cluster.kubeconfig, check=False,
    )  # fmt: skip
    assert upgrade.returncode == 0, f"helm upgrade to HA failed:\n{upgrade.stderr}"

    for crd in PEERING_CRDS:
        cluster.wait_established(crd)
        annotations = cluster.get("crd", crd, "")["metadata"]["annotations"]  # type: ignore[index]
        assert annotations["helm.sh/resource-policy"] == "keep"
        assert annotations["meta.helm.sh/release-name"] == release
    peering = cluster.get("clusterkopfpeering", full, "")
    assert peering is not None, "the peering object the replicas meet in is missing"
    assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"

    sts = cluster.get("statefulset", full, namespace)
    assert sts is not None and sts["spec"]["replicas"] == 2
    pods = operator_pods(cluster, namespace, release, 2)
    assert sorted(p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] for p in pods) == ["0", "1"]
    for pod in pods:
        args = pod["spec"]["containers"][0]["args"]
        assert f"--peering={full}" in args and "--priority=$(POD_INDEX)" in args
        anti = pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    wait_for("the standalone Deployment removed", lambda: cluster.get("deployment", full, namespace) is None or None)
    assert cluster.get("pdb", full, namespace) is not None

    # A second upgrade re-creates the hook's peering object rather than failing on it.
    again = helm(
        "upgrade", release, str(CHART), "-n", namespace, "--reuse-values", "--wait", HELM_TIMEOUT,
        kubeconfig=cluster.kubeconfig, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert cluster.get("clusterkopfpeering", full, "") is not None
    history = json.loads(helm("history", release, "-n", namespace, "-o", "json", kubeconfig=cluster.kubeconfig).stdout)
    assert [h["status"] for h in history] == ["superseded", "superseded", "deployed"]


def test_a_second_ha_release_uses_the_peering_crds_another_release_installed(
    cluster: Cluster, namespace: str, releases: list[tuple[str, str]]
) -> None:
    """CRDs that exist and belong to another release (or to kubectl) are not rendered, so no ownership clash."""
    first, second = release_name("ha1"), release_name("ha2")
    for release in (first, second):
        releases.append((release, namespace))
        proc = helm(
            "install", release, str(CHART), "-n", namespace, "--set", "ha.enabled=true", "--wait", HELM_TIMEOUT,
            kubeconfig=cluster.kubeconfig, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"helm install {release} with HA failed:\n{proc.stderr}"
        assert cluster.get("clusterkopfpeering", f"{release}-inference-operator", "") is not None
    manifest = helm("get", "manifest", second, "-n", namespace, kubeconfig=cluster.kubeconfig).stdout
    assert "kind: CustomResourceDefinition" not in manifest, "the second release must not claim the CRDs"
    helm("uninstall", first, "-n", namespace, "--wait", HELM_TIMEOUT, kubeconfig=cluster.kubeconfig)
    for crd in PEERING_CRDS:
        assert cluster.get("crd", crd, "") is not None, f"{crd} deleted with the release; it must be kept"
