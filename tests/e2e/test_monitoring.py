"""Prometheus wiring on the real control plane: annotations, PodMonitors once the API appears, a real scrape.

These tests run their own operator on namespaces outside the session's prefix, so the fleet gauges they read
count exactly the resources made here. They run in file order: first without the monitoring CRDs, then with.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import Cluster, free_port, wait_for
from tests.support.operator_process import OperatorProcess
from tests.support.samples import REPO_ROOT, SAMPLES_DIR

PODMONITOR_CRD = "podmonitors.monitoring.coreos.com"


def _sample(name: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / "small-model.yaml").read_text())
    body["metadata"]["name"] = name
    return body


@pytest.fixture(scope="module")
def mon_namespace(cluster: Cluster) -> Iterator[str]:
    name = f"mon-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def mon_operator(
    cluster: Cluster, mon_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(cluster, tmp_path_factory.mktemp("mon-operator"), args=("--namespace", mon_namespace))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def crd_dir() -> Path:
    out = subprocess.run(
        ["bash", str(REPO_ROOT / "testbed/monitoring-crds.sh")], capture_output=True, text=True, check=True, timeout=300
    )
    return Path(out.stdout.strip())


@pytest.fixture(scope="module", autouse=True)
def no_monitoring_api_at_first(cluster: Cluster, crd_dir: Path) -> Iterator[None]:
    """Start from a cluster without the monitoring API; leave it that way."""
    cluster.kubectl("delete", "-f", str(crd_dir), "--ignore-not-found", "--wait=true")
    yield
    cluster.kubectl("delete", "-f", str(crd_dir), "--ignore-not-found", "--wait=false", check=False)


def _ready(cluster: Cluster, name: str, ns: str) -> bool:
    return cluster.status("infd", name, ns).get("phase") == "Ready"


def test_without_the_monitoring_api_pods_carry_scrape_annotations(
    cluster: Cluster, mon_operator: OperatorProcess, mon_namespace: str
) -> None:
    cluster.apply(_sample("scraped-a"), mon_namespace)
    wait_for("Ready", lambda: _ready(cluster, "scraped-a", mon_namespace))
    pods = cluster.items("pods", mon_namespace, "inference-operator.dev/deployment=scraped-a")
    annotations = pods[0]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8000"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert cluster.kubectl("get", "podmonitors", "-n", mon_namespace, check=False).returncode != 0


def test_pod_monitors_appear_with_the_api_without_a_restart(
    cluster: Cluster, mon_operator: OperatorProcess, mon_namespace: str, crd_dir: Path
) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(crd_dir / "monitoring.coreos.com_podmonitors.yaml"))
    cluster.wait_established(PODMONITOR_CRD)
    existing = wait_for(
        "a PodMonitor for the resource made before the API",
        lambda: cluster.get("podmonitor", "scraped-a", mon_namespace),
    )
    cluster.apply(_sample("scraped-b"), mon_namespace)
    wait_for("Ready", lambda: _ready(cluster, "scraped-b", mon_namespace))
    monitors = wait_for(
        "one PodMonitor per resource",
        lambda: items if len(items := cluster.items("podmonitors", mon_namespace)) == 2 else None,
    )
    assert sorted(m["metadata"]["name"] for m in monitors) == ["scraped-a", "scraped-b"]
    selector = existing["spec"]["selector"]["matchLabels"]
    assert selector == {"inference-operator.dev/deployment": "scraped-a", "app.kubernetes.io/component": "serving"}
    endpoint = existing["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "http" and endpoint["interval"] == "30s"
    serving = cluster.items("pods", mon_namespace, ",".join(f"{k}={v}" for k, v in selector.items()))
    assert [p["metadata"]["labels"]["inference-operator.dev/deployment"] for p in serving] == ["scraped-a"]


def test_monitoring_disabled_removes_the_pod_monitor(
    cluster: Cluster, mon_operator: OperatorProcess, mon_namespace: str
) -> None:
    body = _sample("scraped-b")
    body["spec"]["monitoring"] = {"enabled": False}
    cluster.apply(body, mon_namespace)
    wait_for("PodMonitor removed", lambda: cluster.get("podmonitor", "scraped-b", mon_namespace) is None)


def _query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


@pytest.fixture
def prometheus(mon_operator: OperatorProcess, tmp_path: Path) -> Iterator[int]:
    """A real Prometheus server (Debian's package) scraping the operator's /metrics every second."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: run hack/install-system-deps.sh (Debian's prometheus package)"
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "inference-operator",
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{mon_operator.metrics_port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_prometheus_reads_the_operators_gauges(
    cluster: Cluster, mon_operator: OperatorProcess, mon_namespace: str, prometheus: int
) -> None:
    """Two vLLM resources are Ready in this namespace: PromQL over a real scrape says 2."""
    wait_for(
        "both Ready",
        lambda: _ready(cluster, "scraped-a", mon_namespace) and _ready(cluster, "scraped-b", mon_namespace),
    )

    def ready_vllm() -> float | None:
        try:
            result = _query(prometheus, 'inference_operator_inference_deployments{phase="Ready",engine="vllm"}')
        except OSError:
            return None
        return float(result[0]["value"][1]) if result else None

    assert wait_for("the gauge scraped", ready_vllm, timeout=60) == 2.0
    per_resource = _query(prometheus, "inference_operator_inference_deployment_ready")
    assert {(r["metric"]["namespace"], r["metric"]["name"], r["value"][1]) for r in per_resource} == {
        (mon_namespace, "scraped-a", "1"),
        (mon_namespace, "scraped-b", "1"),
    }
