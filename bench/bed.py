"""The bench's own test bed: the tests' PrivateTestbed (tests/support/private_testbed.py) in `.testbed-bench/bed`.

Other sessions run e2e tests on the default test bed at the same time; a benchmark on it would measure them
too, and its 2000 pods would crowd their nodes. So `make bench` starts a second control plane in
`.testbed-bench/bed` (git-ignored) and stops it at the end, unless `--kubeconfig` names a cluster to use.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tests.support import testbed
from tests.support.cluster import Cluster
from tests.support.private_testbed import PrivateTestbed

from .kube import Api, ApiError
from .peer_kserve import Manager

REPO = Path(__file__).resolve().parent.parent
TESTBED = REPO / "testbed"
WORK_DIR = REPO / ".testbed-bench"
STATE_DIR = WORK_DIR / "bed"
BENCH_POOL = "bench"
POOL_LABEL = "testbed.inference-operator.dev/pool"
PODS_PER_NODE = 1100


def _bed() -> PrivateTestbed:
    # TESTBED_*_PORT already exported win; else free ones (the default bed holds the usual ports).
    return PrivateTestbed(STATE_DIR, pod_run_ms=None, ports_from_env=True)


def bin_dir() -> Path:
    return testbed.bin_dir()


def up() -> Path:
    """Build (cached) and start the bench's test bed, with the CRDs; returns its admin kubeconfig."""
    _bed().up(timeout=300)
    return STATE_DIR / "kubeconfig"


def down() -> None:
    _bed().down(timeout=300)


def restart() -> Path:
    """Down (its data removed) and up again: an empty cluster, the CRDs installed; returns the kubeconfig."""
    down()
    return up()


def kubectl(kubeconfig: Path, *args: str) -> str:
    return Cluster(kubeconfig=kubeconfig, kubectl_bin=bin_dir() / "kubectl").kubectl(*args).stdout


def install_crds(kubeconfig: Path) -> None:
    Cluster(kubeconfig=kubeconfig, kubectl_bin=bin_dir() / "kubectl").install_crds()


def bench_node(index: int) -> dict[str, Any]:
    """A CPU node roomy enough for a thousand small pods (the test bed's own nodes hold 110 each)."""
    capacity = {"cpu": "1000", "memory": "4000Gi", "pods": str(PODS_PER_NODE), "ephemeral-storage": "100Ti"}
    name = f"bench-cpu-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                POOL_LABEL: BENCH_POOL,
            },
        },
        "status": {
            "allocatable": capacity,
            "capacity": dict(capacity),
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"},
        },
    }


def nodes_needed(largest_n: int, halves: int = 2) -> int:
    """Every half of a round (operator, floor, and the peer's if timed) runs one pod per resource."""
    return math.ceil(halves * largest_n / (PODS_PER_NODE - 100)) + 1


def peer(name: str) -> Manager:
    """The peer's manager on the bench's own bed (its state dir and ports): KServe's is the one there is."""
    if name != "kserve":
        raise ValueError(f"--peer: unknown peer {name!r}")
    return Manager(_bed().env, STATE_DIR)


async def add_bench_nodes(api: Api, count: int) -> None:
    for index in range(count):
        try:
            await api.request("POST", "/api/v1/nodes", bench_node(index))
        except ApiError as exc:
            if exc.status != 409:
                raise
