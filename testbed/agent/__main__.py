"""`python -m agent --kubeconfig K --state-dir D --instance PORT`: the node agent, until SIGTERM.

On SIGTERM it stops every pod's processes (as a node shutting down), removes the pods' namespaces and its
bridge, and reports its nodes NotReady (reason AgentStopped); the nodes stay registered, so a restart of the
agent picks up the pods bound to them again.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from kubernetes import config, watch
from kubernetes.client.exceptions import ApiException

from agent.cpus import CpuSets
from agent.images import ImageTable
from agent.kubeapi import Api
from agent.network import Names, Network, free_subnet
from agent.nodes import Nodes
from agent.pod import Node, PodWorker

log = logging.getLogger("agent")
AGENT_DIR = Path(__file__).resolve().parent
HEARTBEAT = 10.0


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        api_client = config.new_client_from_config(config_file=args.kubeconfig)  # type: ignore[no-untyped-call]
        self.api = Api(api_client)
        names = Names(args.instance)
        subnet = ipaddress.IPv4Network(args.subnet) if args.subnet else free_subnet(args.instance, names.bridge)
        self.network = Network(names, subnet)
        self.cpus = CpuSets()  # both nodes run on this host: one allocator for their pods
        state = Path(args.state_dir)
        variables = {**os.environ, "AGENT_DIR": str(AGENT_DIR)}
        self.images = ImageTable(Path(args.images), variables)
        self.nodes = Nodes(self.api, str(self.network.gateway))
        self.dirs = {
            "pods_dir": state / "agent" / "pods",
            "claims_dir": state / "agent" / "claims",
            "logs_dir": state / "logs" / "pods",
            "root_dir": state / "agent" / "rootfs",
        }
        self.workers: dict[str, PodWorker] = {}
        self.removed: set[str] = set()  # uids whose worker ended: a late event must not start them again
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def start(self) -> None:
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.network.setup()
        # The host's address on the pods' bridge: what pods reach the host's own servers at (the Hub mirror).
        (Path(self.dirs["pods_dir"]).parent / "gateway").write_text(f"{self.network.gateway}\n")
        self.nodes.register()
        threading.Thread(target=self.heartbeats, name="heartbeat", daemon=True).start()
        for name in self.nodes.names:
            threading.Thread(target=self.watch_pods, args=(name,), name=f"watch-{name}", daemon=True).start()
        log.info("node agent up: nodes %s, pod subnet %s", ", ".join(self.nodes.names), self.network.subnet)

    def heartbeats(self) -> None:
        while not self.stopping.wait(HEARTBEAT):
            try:
                self.nodes.heartbeat(ready=True)
            except Exception:
                log.exception("node heartbeat failed; retrying")

    def watch_pods(self, node: str) -> None:
        selector = f"spec.nodeName={node}"
        while not self.stopping.is_set():
            try:
                listed = self.api.core.list_pod_for_all_namespaces(field_selector=selector)
                raw = [self.api.to_dict(p) for p in listed.items]
                self.sync(node, {p["metadata"]["uid"]: p for p in raw})
                stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    self.api.core.list_pod_for_all_namespaces,
                    field_selector=selector,
                    resource_version=listed.metadata.resource_version if listed.metadata else None,
                    timeout_seconds=300,
                )
                for event in stream:
                    if self.stopping.is_set():
                        return
                    self.dispatch(node, event["type"], event["raw_object"])
            except ApiException as exc:
                if exc.status != 410:
                    log.warning("pod watch of %s: %s; relisting", node, exc.reason)
                    time.sleep(1)
            except Exception:
                log.exception("pod watch of %s failed; relisting", node)
                time.sleep(1)

    def sync(self, node: str, pods: dict[str, dict[str, Any]]) -> None:
        with self.lock:
            for uid, worker in list(self.workers.items()):
                if worker.node.name == node and uid not in pods:
                    worker.deleted()
        for pod in pods.values():
            self.dispatch(node, "MODIFIED", pod)

    def dispatch(self, node: str, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        with self.lock:
            for u, w in list(self.workers.items()):
                if not w.is_alive():
                    self.removed.add(u)
                    del self.workers[u]
            worker = self.workers.get(uid)
            if kind == "DELETED":
                if worker:
                    worker.deleted()
                return
            if worker is None:
                if self.stopping.is_set() or uid in self.removed:
                    return
                gpu = node == "local-gpu-0"
                context = Node(node, gpu, self.api, self.network, self.cpus, self.images, **self.dirs)
                worker = PodWorker(context, pod)
                self.workers[uid] = worker
                worker.start()
            else:
                worker.update(pod)

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            w.finished = True
        for w in workers:
            w.join(timeout=2)
            w.stop_now()
        self.network.teardown()
        try:
            self.nodes.heartbeat(ready=False, reason="AgentStopped", message="the test bed's node agent stopped")
        except Exception:
            log.exception("could not report the nodes NotReady")
        log.info("node agent stopped; %d pods' processes stopped, namespaces and bridge removed", len(workers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent", description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--instance", type=int, required=True, help="the API server's port: names and subnet")
    parser.add_argument("--subnet", default=os.environ.get("TESTBED_POD_SUBNET", ""))
    parser.add_argument("--images", default=str(AGENT_DIR / "images.yaml"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    if os.geteuid() != 0:
        print("node agent: root is needed (network namespaces, bind mounts, setuid)", file=sys.stderr)
        return 1
    agent = Agent(args)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.start()
    done.wait()
    agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
