"""The bench's own test bed: the project's testbed/ scripts on other ports and another state dir.

Other sessions run e2e tests on the default test bed at the same time; a benchmark on it would measure them
too, and its 2000 pods would crowd their nodes. So `make bench` starts a second control plane in
`.testbed-bench/bed` (git-ignored) and stops it at the end, unless `--kubeconfig` names a cluster to use.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from .kube import Api, ApiError

REPO = Path(__file__).resolve().parent.parent
TESTBED = REPO / "testbed"
WORK_DIR = REPO / ".testbed-bench"
STATE_DIR = WORK_DIR / "bed"
BENCH_POOL = "bench"
POOL_LABEL = "testbed.inference-operator.dev/pool"
PODS_PER_NODE = 1100
_PORT_VARIABLES = (
    "TESTBED_ETCD_PORT",
    "TESTBED_ETCD_PEER_PORT",
    "TESTBED_APISERVER_PORT",
    "TESTBED_KCM_PORT",
    "TESTBED_SCHEDULER_PORT",
    "TESTBED_KWOK_PORT",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {**os.environ, "TESTBED_STATE_DIR": str(STATE_DIR)}
    for name in _PORT_VARIABLES:
        env.setdefault(name, str(_free_port()))  # the default bed holds the usual ports
    return env


def _script(name: str, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(
        ["bash", str(TESTBED / name)], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"testbed/{name} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc.stdout


def bin_dir() -> Path:
    return Path(_script("bin-path.sh", dict(os.environ), 60).strip())


def up() -> Path:
    """Build (cached) and start the bench's test bed; returns its admin kubeconfig."""
    env = _env()
    _script("build.sh", env, 3600)
    _script("up.sh", env, 300)
    return STATE_DIR / "kubeconfig"


def down() -> None:
    _script("down.sh", {**os.environ, "TESTBED_STATE_DIR": str(STATE_DIR)}, 300)


def kubectl(kubeconfig: Path, *args: str) -> str:
    cmd = [str(bin_dir() / "kubectl"), "--kubeconfig", str(kubeconfig), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def install_crds(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    for crd in ("inferencedeployments", "enginebuilds"):
        kubectl(kubeconfig, "wait", "--for=condition=Established", f"crd/{crd}.inference-operator.dev", "--timeout=60s")


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


def nodes_needed(largest_n: int) -> int:
    """Both halves of a round (operator and floor) run one pod per resource."""
    return math.ceil(2 * largest_n / (PODS_PER_NODE - 100)) + 1


async def add_bench_nodes(api: Api, count: int) -> None:
    for index in range(count):
        try:
            await api.request("POST", "/api/v1/nodes", bench_node(index))
        except ApiError as exc:
            if exc.status != 409:
                raise
