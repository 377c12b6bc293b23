"""The Helm chart (charts/inference-operator) and the kustomize base rendered from it, without a cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from inference_operator.api.crdgen import crd_files
from inference_operator.api.settings import DecisionSettings, OperatorSettings, StoreSettings, from_env
from inference_operator.kube import client
from inference_operator.runtime.kopf_settings import only_exact_namespaces
from tests.support import testbed
from tests.support.chart import CHART, grants, helm, of_kind, one, rules, template, template_text
from tests.support.samples import REPO_ROOT

# The RBAC the operator needs, and why (docs/install.md has the same table). A change here is deliberate.
EXPECTED_GRANTS: dict[tuple[str, str], set[str]] = {
    ("inference-operator.dev", "inferencedeployments"): {"get", "list", "watch"},  # kopf watches; reconcile reads
    ("inference-operator.dev", "enginebuilds"): {"get", "list", "watch", "create"},  # + one build per engine key
    ("inference-operator.dev", "inferencedeployments/status"): {"patch"},  # status, kopf's status storage
    ("inference-operator.dev", "enginebuilds/status"): {"patch"},
    ("inference-operator.dev", "weightcaches"): {"get", "list", "watch", "create", "delete"},  # + eviction
    ("inference-operator.dev", "weightcaches/status"): {"patch"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch", "delete"},  # SSA; retired engines
    ("leaderworkerset.x-k8s.io", "leaderworkersets"): {"get", "list", "watch", "create", "patch", "delete"},  # groups
    ("", "services"): {"get", "list", "watch", "create", "patch"},  # SSA, watched for the read cache
    ("", "pods"): {"list", "watch"},  # the scheduler's Unschedulable verdict
    ("batch", "jobs"): {"get", "list", "watch", "create"},  # immutable build Jobs
    ("", "persistentvolumeclaims"): {"get", "create"},  # engine store, created if absent
    ("", "events"): {"create"},  # operator and kopf Events
    ("monitoring.coreos.com", "podmonitors"): {"get", "create", "patch", "delete"},  # SSA; monitoring off
    ("autoscaling", "horizontalpodautoscalers"): {"get", "create", "patch", "delete"},  # SSA; autoscaling off
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},  # the PodMonitor CRD appearing
    ("", "nodes"): {"list"},  # does any node have a build's GPU product (builds.requireGPUProductNode)
}
PEERING_GRANTS = {("kopf.dev", "clusterkopfpeerings"): {"get", "list", "watch", "patch"}}
EVERYTHING_ON: dict[str, Any] = {
    "watchNamespaces": ["team-a", "team-b"],
    "ha": {"enabled": True, "replicas": 3},
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "prometheusRule": {"enabled": True},
    "grafanaDashboard": {"enabled": True, "namespace": "monitoring"},
    "networkPolicy": {"enabled": True, "allowedNamespaces": ["gateway", "monitoring"]},
}


def workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(found) == 1
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = workload(docs)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


@pytest.mark.parametrize("values", [{}, EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_helm_lint(values: dict[str, Any], tmp_path: Path) -> None:
    args = ["lint", "--strict", str(CHART)]
    if values:
        (tmp_path / "v.yaml").write_text(yaml.safe_dump(values))
        args += ["--values", str(tmp_path / "v.yaml")]
    helm(*args)


def test_defaults_render_the_cluster_wide_operator() -> None:
    docs = template()
    assert sorted(d["kind"] for d in docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert container(docs)["args"] == ["run", "--all-namespaces"]
    assert container(docs)["image"] == "ghcr.io/inference-operator/inference-operator:0.1.0"
    binding = one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "inference-operator", "namespace": "inference-operator"}
    ]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "inference-operator"


@pytest.mark.parametrize("values", [{}, EVERYTHING_ON], ids=["deployment", "statefulset"])
def test_pod_is_restricted_compliant(values: dict[str, Any], tmp_path: Path) -> None:
    docs = template(values, workdir=tmp_path)
    pod = workload(docs)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = container(docs)["securityContext"]
    assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == 65532
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert all("hostPath" not in v for v in pod.get("volumes", []))


def test_probes_and_ports() -> None:
    c = container(template())
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 8080, "health": 8081}
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "128Mi"}


def test_env_is_what_the_operator_reads(tmp_path: Path) -> None:
    values = {
        "engineStore": {
            "claimName": "engines",
            "storageClass": "fast-rwx",
            "size": "2Ti",
            "accessMode": "ReadWriteOnce",
        },
        "autoEngine": {"lowTokensPerMonth": 5, "highTokensPerMonth": 6_000_000_000},
        "metrics": {"port": 9090},
        "health": {"port": 9091},
        "builds": {"jobTTLSeconds": 3600, "requireGPUProductNode": False},
    }
    env = {e["name"]: e["value"] for e in container(template(values, workdir=tmp_path))["env"] if "value" in e}
    assert from_env(env) == OperatorSettings(
        store=StoreSettings(claim_name="engines", storage_class="fast-rwx", size="2Ti", access_mode="ReadWriteOnce"),
        decision=DecisionSettings(low_tokens_per_month=5, high_tokens_per_month=6_000_000_000),
        metrics_port=9090,
        health_port=9091,
        build_job_ttl_seconds=3600,
        build_require_gpu_node=False,
        weight_cache_default=True,
    )
    defaults = {e["name"]: e["value"] for e in container(template())["env"] if "value" in e}
    assert from_env(defaults) == OperatorSettings(weight_cache_default=True)  # the chart caches weights


def test_a_chart_install_caches_weights_unless_turned_off(tmp_path: Path) -> None:
    env = {e["name"]: e.get("value") for e in container(template(workdir=tmp_path))["env"]}
    assert env["INFOP_WEIGHT_CACHE_DEFAULT"] == "true"
    off = template({"weightCache": {"enabledByDefault": False}}, workdir=tmp_path)
    env = {e["name"]: e["value"] for e in container(off)["env"] if "value" in e}
    assert from_env(env).weight_cache_default is False


@pytest.mark.parametrize("ttl", [0, 604800, 2147483647])
def test_the_build_job_ttl_reaches_the_operator(ttl: int, tmp_path: Path) -> None:
    """A week, or 0 (deleted when finished), as written: no float rendering (6.048e+05) the operator refuses."""
    env = {
        e["name"]: e.get("value")
        for e in container(template({"builds": {"jobTTLSeconds": ttl}}, workdir=tmp_path))["env"]
    }
    assert env["INFOP_BUILD_JOB_TTL_SECONDS"] == str(ttl)
    assert from_env({k: v for k, v in env.items() if v is not None}).build_job_ttl_seconds == ttl


def test_without_the_gpu_node_check_the_operator_may_not_read_nodes(tmp_path: Path) -> None:
    table = grants(template({"builds": {"requireGPUProductNode": False}}, workdir=tmp_path))
    assert ("", "nodes") not in table
    assert table == {k: v for k, v in EXPECTED_GRANTS.items() if k != ("", "nodes")}


@pytest.mark.parametrize("values", [{}, EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_no_empty_env_values(values: dict[str, Any], tmp_path: Path) -> None:
    """The API server drops `value: ""`, so a client-side apply or Argo CD would see drift on every sync."""
    for env in container(template(values, workdir=tmp_path))["env"]:
        assert env.get("value") or env.get("valueFrom"), env


def test_namespaced_ha_and_monitoring(tmp_path: Path) -> None:
    docs = template(EVERYTHING_ON, crds=True, workdir=tmp_path)
    sts = one(docs, "StatefulSet")
    assert sts["spec"]["replicas"] == 3
    assert container(docs)["args"] == [
        "run",
        "--namespace=team-a",
        "--namespace=team-b",
        "--peering=inference-operator",
        "--priority=$(POD_INDEX)",
    ]
    index = next(e for e in container(docs)["env"] if e["name"] == "POD_INDEX")
    assert index["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert [r["metadata"]["namespace"] for r in of_kind(docs, "Role")] == ["team-a", "team-b"]
    assert [b["metadata"]["namespace"] for b in of_kind(docs, "RoleBinding")] == ["team-a", "team-b"]
    # Namespaced mode: one ClusterRole, for cluster-scoped resources only (CRDs, Nodes, the peering object).
    (cluster_role,) = of_kind(docs, "ClusterRole")
    assert cluster_role["metadata"]["name"] == "inference-operator-cluster"
    assert {g for rule in cluster_role["rules"] for g in rule["apiGroups"]} == {"apiextensions.k8s.io", "", "kopf.dev"}
    assert [r["resources"] for r in cluster_role["rules"] if r["apiGroups"] == [""]] == [["nodes"]]
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert one(docs, "ClusterKopfPeering")["metadata"]["name"] == "inference-operator"
    crds = {c["metadata"]["name"]: c["spec"]["scope"] for c in of_kind(docs, "CustomResourceDefinition")}
    assert crds["clusterkopfpeerings.kopf.dev"] == "Cluster" and crds["kopfpeerings.kopf.dev"] == "Namespaced"
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = one(docs, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def test_named_namespaces_put_kopf_in_restricted_mode(tmp_path: Path) -> None:
    """The chart's Roles grant no cluster-wide namespace list: kopf must not scan for namespaces then."""
    args = container(template({"watchNamespaces": ["team-a", "team-b"]}, workdir=tmp_path))["args"]
    assert only_exact_namespaces([a.removeprefix("--namespace=") for a in args if a.startswith("--namespace=")])
    assert not only_exact_namespaces(["team-*"]) and not only_exact_namespaces([])


def test_prometheus_rule_and_dashboard_are_the_files_verbatim(tmp_path: Path) -> None:
    docs = template(EVERYTHING_ON, workdir=tmp_path)
    files = CHART / "files"
    rule = one(docs, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((files / "prometheus-rules.yaml").read_text())
    assert "{{ $labels.namespace }}" in json.dumps(rule["spec"])  # not eaten by Helm's template engine
    board = one(docs, "ConfigMap")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert board["metadata"]["namespace"] == "monitoring"
    assert json.loads(board["data"]["inference-operator.json"]) == json.loads((files / "dashboard.json").read_text())


def test_ha_off_renders_no_peering(tmp_path: Path) -> None:
    docs = template({"watchNamespaces": ["team-a"]}, crds=True, workdir=tmp_path)
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ClusterKopfPeering", "PodDisruptionBudget", "StatefulSet"}
    assert not [r for r in rules(docs) if "kopf.dev" in r["apiGroups"]]
    assert all("kopf.dev" not in d["metadata"]["name"] for d in of_kind(docs, "CustomResourceDefinition"))


VARIANTS = [{}, {"watchNamespaces": ["team-a"]}, {"ha": {"enabled": True}}, EVERYTHING_ON]


@pytest.mark.parametrize("values", VARIANTS, ids=["defaults", "namespaced", "ha", "everything-on"])
def test_rbac_is_exactly_what_the_operator_uses(values: dict[str, Any], tmp_path: Path) -> None:
    docs = template(values, workdir=tmp_path)
    expected = dict(EXPECTED_GRANTS)
    if values.get("ha", {}).get("enabled"):
        expected |= PEERING_GRANTS
    assert grants(docs) == expected


@pytest.mark.parametrize("values", VARIANTS, ids=["defaults", "namespaced", "ha", "everything-on"])
def test_no_wildcards_and_no_secrets(values: dict[str, Any], tmp_path: Path) -> None:
    for rule in rules(template(values, workdir=tmp_path)):
        for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert not any("*" in item for item in rule.get(field) or []), rule
        assert not any(r.split("/")[0] == "secrets" for r in rule.get("resources") or []), rule


def test_peering_get_and_patch_are_narrowed_to_the_peering_object(tmp_path: Path) -> None:
    docs = template({"ha": {"enabled": True, "peeringName": "llm-ops"}}, workdir=tmp_path)
    named = [r for r in rules(docs) if r.get("resourceNames")]
    assert named == [
        {
            "apiGroups": ["kopf.dev"],
            "resources": ["clusterkopfpeerings"],
            "resourceNames": ["llm-ops"],
            "verbs": ["get", "patch"],
        }
    ]


def test_rbac_covers_every_kind_the_operator_calls() -> None:
    """kube/client.py is the only module that talks to the API server: each kind it knows has a rule."""
    table = grants(template())
    for prefix, plural in client._KINDS.values():
        group = "" if prefix == "api/v1" else prefix.split("/")[1]
        assert (group, plural) in table, f"no rule for {group}/{plural}"


def test_rbac_covers_every_resource_kopf_watches() -> None:
    """kopf lists and watches each resource a handler is on, and patches the status of those it tracks."""
    from kopf._core.intents import registries  # noqa: PLC0415 - kopf's registry holds what runtime/handlers.py declared

    from inference_operator.runtime import handlers  # noqa: F401, PLC0415 - registers the handlers

    registry = registries.get_default_registry()
    table = grants(template())
    for selector in registry._watching.get_all_selectors() | registry._changing.get_all_selectors():
        plural = str(selector.plural or selector.any_name)  # kopf.on.event(group, version, name) fills any_name
        assert {"list", "watch"} <= table.get((selector.group or "", plural), set()), selector
    for selector in registry._changing.get_all_selectors():
        plural = str(selector.plural or selector.any_name)
        assert "patch" in table.get((selector.group or "", f"{plural}/status"), set()), selector


def test_chart_ships_exactly_the_generated_crds() -> None:
    shipped = of_kind(template(crds=True), "CustomResourceDefinition")
    assert shipped == [yaml.safe_load(text) for _, text in sorted(crd_files().items())]


def _object_schemas(node: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _object_schemas(value, f"{path}.{key}")
    return found


def test_values_schema_is_strict_and_accepts_the_defaults() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)
    for path, node in _object_schemas(schema):
        assert node.get("additionalProperties") is False, f"{path} admits unknown keys"


@pytest.mark.parametrize("setting", ["replica=2", "ha.replica=2", "networkPolicy.allowNamespaces={a}", "image.tga=x"])
def test_schema_rejects_unknown_keys(setting: str) -> None:
    proc = helm("template", "x", str(CHART), "--set", setting, check=False)
    assert proc.returncode != 0
    assert "additional properties" in proc.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"networkPolicy": {"enabled": True}}, "networkPolicy.namespaces must list"),
        ({"autoEngine": {"lowTokensPerMonth": 2, "highTokensPerMonth": 1}}, "must not exceed"),
        ({"ha": {"enabled": True, "replicas": 1}}, "minimum"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "does not match pattern"),
        ({"builds": {"jobTTLSeconds": -1}}, "minimum"),
        ({"builds": {"jobTTLSeconds": "1d"}}, "jobTTLSeconds"),
        ({"builds": {"requireGPUProductNode": "yes"}}, "requireGPUProductNode"),
    ],
)
def test_invalid_values_fail_with_a_reason(values: dict[str, Any], message: str, tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(values))
    proc = helm("template", "x", str(CHART), "--values", str(tmp_path / "v.yaml"), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_network_policy_admits_only_the_chosen_namespaces_to_the_serving_port(tmp_path: Path) -> None:
    docs = template(EVERYTHING_ON, workdir=tmp_path)
    policies = of_kind(docs, "NetworkPolicy")
    assert [p["metadata"]["namespace"] for p in policies] == ["team-a", "team-b"]
    spec = policies[0]["spec"]
    assert spec["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/managed-by": "inference-operator", "app.kubernetes.io/component": "serving"}
    }
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert rule["from"] == [
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["gateway", "monitoring"]}
                ]
            }
        },
        {"podSelector": {}},
    ]


def test_network_policy_with_nobody_allowed_denies_all_ingress(tmp_path: Path) -> None:
    values = {"networkPolicy": {"enabled": True, "namespaces": ["llm"], "allowSameNamespace": False}}
    policy = one(template(values, workdir=tmp_path), "NetworkPolicy")
    assert policy["metadata"]["namespace"] == "llm"
    assert policy["spec"]["ingress"] == []


def test_kustomize_base_is_the_chart_rendered(tmp_path: Path) -> None:
    out = tmp_path / "install.yaml"
    subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "gen-manifests.sh"), str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    committed = (REPO_ROOT / "manifests" / "install.yaml").read_text()
    assert committed == out.read_text(), "manifests/install.yaml is stale: run `make manifests`"
    assert committed.split("\n", 2)[2] == template_text(crds=True)


def test_kustomize_base_builds_without_samples() -> None:
    built = subprocess.run(
        [str(testbed.bin_dir() / "kubectl"), "kustomize", str(REPO_ROOT / "manifests")],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "Namespace",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment",
        ]
    )
    namespace = one(docs, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    namespaced = [d for d in docs if d["kind"] in ("ServiceAccount", "Service", "Deployment")]
    assert {d["metadata"]["namespace"] for d in namespaced} == {namespace["metadata"]["name"]}
    assert one(docs, "Deployment")["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/managed-by") is None


def test_the_prometheus_adapter_rules_are_the_file_verbatim(tmp_path: Path) -> None:
    docs = template({"prometheusAdapterRules": {"enabled": True, "namespace": "monitoring"}}, workdir=tmp_path)
    rules = one(docs, "ConfigMap")
    assert rules["metadata"]["namespace"] == "monitoring"
    shipped = yaml.safe_load((CHART / "files" / "prometheus-adapter-rules.yaml").read_text())
    assert yaml.safe_load(rules["data"]["config.yaml"]) == shipped
    assert shipped["rules"][0]["seriesQuery"].startswith('{__name__=~"vllm:num_requests_waiting')
    assert not [d for d in template({}, workdir=tmp_path / "off") if d["kind"] == "ConfigMap"]
