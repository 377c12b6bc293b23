"""e2e fixtures: the real control plane of the test bed (or the cluster in KUBECONFIG), the CRDs, the operator."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import testbed
from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The test bed, brought up if needed. A failure to start fails the run: e2e tests never skip.

    In CI the test bed is stopped at the end; on a developer's machine it stays up for the next run.
    """
    given = os.environ.get("KUBECONFIG")
    kubeconfig = Path(given) if given else testbed.ensure_up()
    c = Cluster(kubeconfig=kubeconfig, kubectl_bin=testbed.bin_dir() / "kubectl")
    c.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    for crd in ("inferencedeployments", "enginebuilds", "weightcaches"):
        c.wait_established(f"{crd}.inference-operator.dev")
    yield c
    if not given and os.environ.get("CI"):
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
    proc.stop()


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
