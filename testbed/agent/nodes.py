"""The agent's nodes: registered with their labels, taints and capacity, kept Ready with a Lease renewed in
kube-node-lease and a status heartbeat, as a kubelet keeps its node (else the node lifecycle controller taints
it and evicts its pods)."""

from __future__ import annotations

import datetime
import logging
import platform
from typing import Any

from kubernetes.client.exceptions import ApiException

from agent.kubeapi import MERGE, Api

log = logging.getLogger(__name__)
LEASE_SECONDS = 40
POOL = "testbed.inference-operator.dev/pool"
REAL = "testbed.inference-operator.dev/real-processes"
GPU_STAND_IN = "testbed.inference-operator.dev/gpu-stand-in"
# Over-committed on purpose: the machine has 2 cores and ~20 GiB for everything; these figures let the
# rendered requests of several engine pods at once fit (each asks 4Gi and uses about 1 GiB: the generated
# model), and nothing checks them (no cgroups).
CAPACITY = {"cpu": "8", "memory": "40Gi", "pods": "16", "ephemeral-storage": "50Gi"}


def node_specs() -> list[dict[str, Any]]:
    common = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "local-process", REAL: "true"}
    taint = {"key": REAL, "value": "true", "effect": "NoSchedule"}
    return [
        {
            "metadata": {
                "name": "local-cpu-0",
                "labels": {**common, "kubernetes.io/hostname": "local-cpu-0", POOL: "local-cpu"},
            },
            "spec": {"taints": [taint]},
            "capacity": dict(CAPACITY),
        },
        {
            "metadata": {
                "name": "local-gpu-0",
                "labels": {
                    **common,
                    "kubernetes.io/hostname": "local-gpu-0",
                    POOL: "local-gpu",
                    GPU_STAND_IN: "true",
                    "nvidia.com/gpu.present": "true",
                    "nvidia.com/gpu.product": "NVIDIA-L4",
                    "nvidia.com/gpu.count": "2",
                    "nvidia.com/gpu.memory": "23034",
                },
                "annotations": {
                    GPU_STAND_IN: "its 2 nvidia.com/gpu are stand-ins: no GPU exists; only stand-in images "
                    "(testbed/agent/images.yaml) may request them"
                },
            },
            "spec": {"taints": [taint, {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
            "capacity": {**CAPACITY, "nvidia.com/gpu": "2"},
        },
    ]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Nodes:
    def __init__(self, api: Api, host_ip: str) -> None:
        self.api = api
        self.host_ip = host_ip
        self.specs = node_specs()
        self.names = [n["metadata"]["name"] for n in self.specs]
        self.created = _now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def register(self) -> None:
        for n in self.specs:
            body: Any = {"apiVersion": "v1", "kind": "Node", "metadata": n["metadata"], "spec": n["spec"]}
            try:
                self.api.core.create_node(body)
                log.info("registered node %s", n["metadata"]["name"])
            except ApiException as exc:
                if exc.status != 409:
                    raise
                patch = {"metadata": n["metadata"], "spec": n["spec"]}
                self.api.core.patch_node(n["metadata"]["name"], patch, _content_type=MERGE)
        self.heartbeat(ready=True)

    def heartbeat(self, ready: bool, reason: str = "KubeletReady", message: str = "") -> None:
        now = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
        for n in self.specs:
            name = n["metadata"]["name"]
            self._renew_lease(name)
            cond = {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": reason,
                "message": message or "the test bed's node agent is running its pods as local processes",
                "lastHeartbeatTime": now,
                "lastTransitionTime": self.created if ready else now,
            }
            pressure = [
                {
                    "type": t,
                    "status": "False",
                    "reason": f"KubeletHas{r}",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": self.created,
                }
                for t, r in (
                    ("MemoryPressure", "SufficientMemory"),
                    ("DiskPressure", "NoDiskPressure"),
                    ("PIDPressure", "SufficientPID"),
                )
            ]
            status = {
                "capacity": n["capacity"],
                "allocatable": n["capacity"],
                "conditions": [cond, *pressure],
                "addresses": [{"type": "InternalIP", "address": self.host_ip}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "kernelVersion": platform.release(),
                    "osImage": "testbed node agent (local processes)",
                    "containerRuntimeVersion": "testbed://0",
                    "kubeletVersion": "testbed-node-agent",
                    "kubeProxyVersion": "",
                    "machineID": "",
                    "systemUUID": "",
                    "bootID": "",
                },
            }
            self.api.core.patch_node_status(name, {"status": status}, _content_type=MERGE)

    def _renew_lease(self, name: str) -> None:
        renew = _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec = {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": renew}
        try:
            self.api.coordination.patch_namespaced_lease(name, "kube-node-lease", {"spec": spec})
        except ApiException as exc:
            if exc.status != 404:
                raise
            node = self.api.core.read_node(name)
            uid = node.metadata.uid if node.metadata else None
            body: Any = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": name,
                    "namespace": "kube-node-lease",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}],
                },
                "spec": spec,
            }
            self.api.coordination.create_namespaced_lease("kube-node-lease", body)
