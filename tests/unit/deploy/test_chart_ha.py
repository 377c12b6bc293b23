"""The chart's HA switch: peering CRDs as templates (so `helm upgrade` can turn HA on), the peering object as a
post-install/upgrade hook, default pod anti-affinity, and `helm lint` with every ci/ values file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import CHART, helm_bin, of_kind, one, template
from tests.support.samples import REPO_ROOT

PEERING_CRDS = {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}


def peering_crds(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for d in of_kind(docs, "CustomResourceDefinition")
        if d["metadata"]["name"].endswith(".kopf.dev")
    }


def pod_affinity(docs: list[dict[str, Any]]) -> Any:
    workload = next(d for d in docs if d["kind"] in ("Deployment", "StatefulSet"))
    return workload["spec"]["template"]["spec"].get("affinity")


def test_ha_renders_the_peering_crds_as_templates_kept_on_uninstall(tmp_path: Path) -> None:
    crds = peering_crds(template({"ha": {"enabled": True}}, workdir=tmp_path))  # no --include-crds
    assert set(crds) == PEERING_CRDS
    for crd in crds.values():
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert "labels" not in crd["metadata"], "shared objects: no release labels, renderings of any release agree"
    assert crds["clusterkopfpeerings.kopf.dev"]["spec"]["scope"] == "Cluster"


def test_install_peering_crds_false_and_ha_off_render_none(tmp_path: Path) -> None:
    assert not peering_crds(template({"ha": {"enabled": True, "installPeeringCRDs": False}}, workdir=tmp_path))
    assert not peering_crds(template(crds=True))
    assert not (CHART / "charts").exists(), "the kopf-peering subchart (crds/ only at first install) is gone"
    assert "dependencies" not in yaml.safe_load((CHART / "Chart.yaml").read_text())


def test_peering_object_is_created_after_its_crds(tmp_path: Path) -> None:
    peering = one(template({"ha": {"enabled": True}}, workdir=tmp_path), "ClusterKopfPeering")
    annotations = peering["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"


def test_ha_replicas_prefer_distinct_nodes_by_default(tmp_path: Path) -> None:
    affinity = pod_affinity(template({"ha": {"enabled": True}}, workdir=tmp_path))
    (term,) = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "inference-operator",
        "app.kubernetes.io/instance": "inference-operator",
        "app.kubernetes.io/component": "operator",
    }
    assert pod_affinity(template()) is None, "one standalone replica needs no anti-affinity"


def test_anti_affinity_can_be_required_none_or_replaced(tmp_path: Path) -> None:
    required = pod_affinity(template({"ha": {"enabled": True, "podAntiAffinity": "required"}}, workdir=tmp_path))
    assert list(required["podAntiAffinity"]) == ["requiredDuringSchedulingIgnoredDuringExecution"]
    assert pod_affinity(template({"ha": {"enabled": True, "podAntiAffinity": "none"}}, workdir=tmp_path)) is None
    own: dict[str, Any] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    }
    assert pod_affinity(template({"ha": {"enabled": True}, "affinity": own}, workdir=tmp_path)) == own


def test_a_bad_anti_affinity_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"ha": {"enabled": True, "podAntiAffinity": "sometimes"}}))
    proc = subprocess.run(
        [str(helm_bin()), "template", "x", str(CHART), "--values", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "podAntiAffinity" in proc.stderr


@pytest.mark.parametrize("name", ["default", "ha", "monitoring", "namespaced", "networkpolicy"])
def test_ci_values_files_exist_and_render(name: str) -> None:
    path = CHART / "ci" / f"{name}-values.yaml"
    assert path.is_file()
    out = subprocess.run(
        [str(helm_bin()), "template", "x", str(CHART), "--values", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_helm_lint_passes_with_every_ci_values_file() -> None:
    env = {**os.environ, "HELM": str(helm_bin())}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "lint-chart.sh")], capture_output=True, text=True, check=False, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "passed with 5 values files" in proc.stdout
