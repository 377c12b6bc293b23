"""Pod networking, as a kubelet with a bridge CNI plugin gives it: a network namespace per pod, a veth pair to a
bridge of this agent's own, and an address from the agent's subnet.

Every name and the subnet are derived from the instance (the API server's port), so test beds that run at the
same time on one machine never share a bridge, a namespace or an address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import subprocess
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def default_subnet(instance: int) -> ipaddress.IPv4Network:
    """A /24 in 10.192.0.0/13, chosen by the instance: away from kwok's 10.244.0.0/16 and the service range."""
    index = instance % 2048
    return ipaddress.IPv4Network(f"10.{192 + index // 256}.{index % 256}.0/24")


def used_networks() -> list[tuple[str, ipaddress.IPv4Interface]]:
    """(interface, address) of every IPv4 address on this machine."""
    out = []
    for line in run("ip", "-o", "-4", "addr").stdout.splitlines():
        fields = line.split()
        out.append((fields[1], ipaddress.IPv4Interface(fields[3])))
    return out


def free_subnet(instance: int, bridge: str) -> ipaddress.IPv4Network:
    """The instance's /24, or the next one no interface (but this instance's own bridge) uses yet: two test beds
    whose ports map to the same /24 still get two."""
    used = [addr.network for name, addr in used_networks() if name != bridge]
    for step in range(2048):
        candidate = default_subnet(instance + step)
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise RuntimeError("no free /24 left in 10.192.0.0/13 for the pods; set TESTBED_POD_SUBNET")


@dataclass(frozen=True)
class Names:
    instance: int

    @property
    def bridge(self) -> str:
        return f"tbr{self.instance}"

    @property
    def netns_prefix(self) -> str:
        return f"testbed-{self.instance}-"

    def netns(self, octet: int) -> str:
        return f"{self.netns_prefix}{octet}"

    def host_veth(self, octet: int) -> str:
        return f"tv{self.instance}x{octet}"

    def peer_veth(self, octet: int) -> str:
        return f"tp{self.instance}x{octet}"


def our_netns(names: Names) -> list[str]:
    listed = run("ip", "netns", "list").stdout.split("\n")
    return [line.split()[0] for line in listed if line.startswith(names.netns_prefix)]


def kill_netns_processes(netns: str) -> None:
    """SIGKILL every process left in the namespace (a container's children that left its process group)."""
    for pid in run("ip", "netns", "pids", netns, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


class Network:
    """The bridge and the pods' namespaces of one agent instance; allocates pod addresses."""

    def __init__(self, names: Names, subnet: ipaddress.IPv4Network) -> None:
        self.names = names
        self.subnet = subnet
        hosts = list(subnet.hosts())
        self.gateway = hosts[0]
        self._free = hosts[1:]
        self._lock = threading.Lock()

    def setup(self) -> None:
        """Removes what a previous run of this instance left, checks the subnet is free, creates the bridge."""
        self.teardown()
        for name, addr in used_networks():
            if self.subnet.overlaps(addr.network):
                raise RuntimeError(f"the pod subnet {self.subnet} overlaps {addr} on {name}; set TESTBED_POD_SUBNET")
        br = self.names.bridge
        run("ip", "link", "add", br, "type", "bridge")
        run("ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", br)
        run("ip", "link", "set", br, "up")
        log.info("bridge %s at %s/%d", br, self.gateway, self.subnet.prefixlen)

    def teardown(self) -> None:
        for netns in our_netns(self.names):
            kill_netns_processes(netns)
            run("ip", "netns", "del", netns, check=False)
        run("ip", "link", "del", self.names.bridge, check=False)

    def add_pod(self) -> tuple[str, str]:
        """A new namespace with lo up and eth0 on the bridge; returns (netns name, pod IP)."""
        with self._lock:
            if not self._free:
                raise RuntimeError(f"no free address left in {self.subnet}")
            ip = self._free.pop(0)
        octet = int(ip) - int(self.subnet.network_address)
        netns, host, peer = self.names.netns(octet), self.names.host_veth(octet), self.names.peer_veth(octet)
        run("ip", "link", "del", host, check=False)
        run("ip", "netns", "del", netns, check=False)
        run("ip", "netns", "add", netns)
        run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
        run("ip", "link", "set", peer, "netns", netns)
        run("ip", "link", "set", host, "master", self.names.bridge, "up")
        run("ip", "-n", netns, "link", "set", peer, "name", "eth0")
        run("ip", "-n", netns, "addr", "add", f"{ip}/{self.subnet.prefixlen}", "dev", "eth0")
        run("ip", "-n", netns, "link", "set", "eth0", "up")
        run("ip", "-n", netns, "link", "set", "lo", "up")
        run("ip", "-n", netns, "route", "add", "default", "via", str(self.gateway))
        return netns, str(ip)

    def remove_pod(self, netns: str, ip: str) -> None:
        kill_netns_processes(netns)
        run("ip", "netns", "del", netns, check=False)
        octet = int(ipaddress.IPv4Address(ip)) - int(self.subnet.network_address)
        run("ip", "link", "del", self.names.host_veth(octet), check=False)
        with self._lock:
            address = ipaddress.IPv4Address(ip)
            if address not in self._free:
                self._free.append(address)  # reused last: a client's stale connection never meets a new pod
