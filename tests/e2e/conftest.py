"""e2e fixtures: the real control plane of the test bed (or the cluster in KUBECONFIG), the CRDs, the operator."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import testbed
from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess

REPO = Path(__file__).resolve().parents[2]


# The lanes of hack/e2e.sh (`make test`): engine and kwok run at the same time on the shared test bed, alone
# after them by itself. A module not named here is kwok's.
ENGINE_LANE = frozenset(
    {"test_autoscaling", "test_node_agent", "test_real_engine", "test_real_traffic", "test_weight_cache"}
)
# CRDs added and removed (monitoring.coreos.com, kopf.dev), or an operator watching every namespace: either would
# change what the other lanes' operators see or reconcile.
ALONE_LANE = frozenset({"test_helm_upgrade", "test_install", "test_install_rbac", "test_monitoring"})


def lane_of(module: str) -> str:
    if module in ENGINE_LANE:
        return "engine"
    return "alone" if module in ALONE_LANE else "kwok"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(getattr(pytest.mark, f"lane_{lane_of(path.stem)}"))


def connect() -> Cluster:
    """The cluster in KUBECONFIG, else the test bed (brought up if needed), with the project's CRDs applied and
    served. hack/e2e.sh calls this once before its lanes start, so that each session's own call changes nothing
    while the other lane's operator is already watching."""
    given = os.environ.get("KUBECONFIG")
    kubeconfig = Path(given) if given else testbed.ensure_up()
    c = Cluster(kubeconfig=kubeconfig, kubectl_bin=testbed.bin_dir() / "kubectl")
    c.install_crds()
    return c


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The test bed, brought up if needed. A failure to start fails the run: e2e tests never skip.

    In CI the test bed is stopped at the end (by hack/e2e.sh when it runs the lanes: TESTBED_KEEP_UP); on a
    developer's machine it stays up for the next run.
    """
    c = connect()
    yield c
    if not os.environ.get("KUBECONFIG") and os.environ.get("CI") and not os.environ.get("TESTBED_KEEP_UP"):
        testbed.down()


# Namespaces of this session start with this prefix and the session's operator watches only them, so two
# sessions (or a demo) on one test bed never reconcile each other's resources.
SESSION_PREFIX = f"e2e{uuid.uuid4().hex[:4]}"


@pytest.fixture(scope="session")
def operator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """One operator process for the session, watching this session's namespaces. Set up as a platform team sets
    it up with a company Hub mirror: INFOP_HF_ENDPOINT names the test bed's (testbed/hub), when it runs."""
    hub = testbed.state_dir() / "hub" / "endpoint"
    extra_env = {"INFOP_HF_ENDPOINT": hub.read_text().strip()} if hub.is_file() else {}
    proc = OperatorProcess(
        cluster, tmp_path_factory.mktemp("operator"), extra_env=extra_env, args=("--namespace", f"{SESSION_PREFIX}-*")
    )
    proc.start()
    yield proc
    drain_namespaces(cluster, f"{SESSION_PREFIX}-")
    proc.stop()


def drain_namespaces(cluster: Cluster, prefix: str, timeout: float = 180.0) -> None:
    """Wait (bounded) until the namespaces starting with `prefix` are gone, before their operator stops.

    Tests delete their namespaces without waiting. A resource that still holds kopf's finalizer (a timer's, such
    as the multi-node group re-check) goes only once its operator removes it: stopped first, it never does, the
    namespace stays Terminating, and the next lane's operator over every namespace meets it (CI of a487ebf: the
    chart identity's reconcile of such a leftover was refused, a 403 in the RBAC test's log)."""
    deadline = time.monotonic() + timeout
    left: list[str] = []
    while time.monotonic() < deadline:
        left = [
            n["metadata"]["name"] for n in cluster.items("namespaces", "") if n["metadata"]["name"].startswith(prefix)
        ]
        if not left:
            return
        time.sleep(1)
    print(f"\n[e2e] namespaces still there {timeout:.0f} s after the session: {left}")


def namespace_name(hint: str) -> str:
    base = "".join(c if c.isalnum() else "-" for c in hint.lower())[:40].strip("-")
    return f"{SESSION_PREFIX}-{base}-{uuid.uuid4().hex[:5]}"


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own, deleted afterwards (without waiting)."""
    name = namespace_name(request.node.name)
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
