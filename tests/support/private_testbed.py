"""A test bed of one's own, for tests that stop kube-apiserver or etcd, and for the bench (bench/bed.py).

Other sessions share the default test bed (.testbed), so an outage there would fail their tests. This one runs
the same scripts with its own ports (free ones on 127.0.0.1) and its own state dir (under pytest's temporary
directory), and is torn down with down.sh when the tests that use it are done.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import testbed
from .cluster import Cluster, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
PORT_VARIABLES = (
    "TESTBED_ETCD_PORT",
    "TESTBED_ETCD_PEER_PORT",
    "TESTBED_APISERVER_PORT",
    "TESTBED_KCM_PORT",
    "TESTBED_SCHEDULER_PORT",
    "TESTBED_KWOK_PORT",
    "TESTBED_HUB_PORT",
    "TESTBED_PROMETHEUS_PORT",
)


class PrivateTestbed:
    """up.sh/down.sh/component.sh with TESTBED_STATE_DIR and the port variables pointing at this instance."""

    def __init__(self, state_dir: Path, pod_run_ms: int | None = 3000, ports_from_env: bool = False) -> None:
        """pod_run_ms None: the scripts' default; ports_from_env: TESTBED_*_PORT already exported win."""
        self.state_dir = state_dir
        self.env = {**os.environ, "TESTBED_STATE_DIR": str(state_dir)}
        if pod_run_ms is not None:
            self.env["TESTBED_POD_RUN_MS"] = str(pod_run_ms)
        for variable in PORT_VARIABLES:
            if not (ports_from_env and variable in self.env):
                self.env[variable] = str(free_port())
        self.env.pop("KUBECONFIG", None)
        # No LeaderWorkerSet controller: no test of a private test bed uses one, and it adds ~15 s to each start.
        self.env.setdefault("TESTBED_LWS", "0")
        # Nor the real engine's neighbours (Hub mirror, Prometheus, metrics adapter, S3 store): what runs on a
        # private bed runs on its simulated nodes. SeaweedFS also names its unix sockets by port alone
        # (/tmp/seaweedfs-volume-grpc-<port>.sock), so a second store on the default ports broke the shared
        # bed's (its uploads then failed with "no writable volumes").
        self.env.setdefault("TESTBED_ENGINE_PARTS", "0")
        self.cluster = Cluster(kubeconfig=state_dir / "kubeconfig", kubectl_bin=testbed.bin_dir() / "kubectl")

    def script(self, *args: str, timeout: float = 180) -> str:
        proc = subprocess.run(
            ["bash", str(REPO / "testbed" / args[0]), *args[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            raise AssertionError(f"testbed/{' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
        return proc.stdout

    def up(self, timeout: float = 180) -> None:
        """Starts it (stopping whatever part of it started, should that fail) and installs the CRDs."""
        testbed.build()
        try:
            self.script("up.sh", timeout=timeout)
            self.cluster.install_crds()
        except BaseException:
            self.down()
            raise

    def down(self, timeout: float = 180) -> None:
        self.script("down.sh", timeout=timeout)

    def component(self, action: str, name: str) -> None:
        self.script("component.sh", action, name, timeout=60)

    def diagnostics(self, lines: int = 15) -> str:
        """Nodes, pods and the end of each component's log: what a failed wait for convergence needs shown."""
        kinds = "nodes,inferencedeployments,deployments,pods"
        out = [self.cluster.kubectl("get", kinds, "-A", "-o", "wide", check=False).stdout]
        for log in sorted((self.state_dir / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(line[:400] for line in tail))
        return "\n".join(out)

    def api_ready(self) -> bool:
        return self.cluster.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

    def wait_ready(self, timeout: float = 90) -> None:
        wait_for("the private test bed's API server to be ready", self.api_ready, timeout=timeout, interval=0.5)


@contextmanager
def private_testbed(state_dir: Path, pod_run_ms: int = 3000) -> Iterator[PrivateTestbed]:
    """A private test bed for the duration of the block; down.sh runs whatever happens inside."""
    bed = PrivateTestbed(state_dir, pod_run_ms)
    try:
        bed.up()
        yield bed
    finally:
        bed.down()
