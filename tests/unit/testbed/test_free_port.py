"""free_port: the ports private test beds and operators listen on come from outside the kernel's ephemeral
range (where outgoing connections take theirs), are never given twice, and never one of the shared bed's."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from tests.support import cluster
from tests.support.cluster import ephemeral_ports, free_port


def test_ports_are_outside_the_ephemeral_range_distinct_and_bindable() -> None:
    ephemeral = ephemeral_ports()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert not [p for p in ports if p in ephemeral or 20000 <= p < 28000]
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))


def test_the_range_is_read_from_the_kernel_and_defaults_to_linux_s(tmp_path: Path) -> None:
    given = tmp_path / "range"
    given.write_text("40000\t50000\n")
    assert ephemeral_ports(given) == range(40000, 50001)
    assert ephemeral_ports(tmp_path / "missing") == range(32768, 61000)


def test_two_processes_sharing_a_registry_never_give_the_same_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The e2e lanes are two pytest sessions: the registry (a file per port) is what they share. A port another
    process claimed is skipped though it is free to bind; the one given is claimed for the others."""
    registry = tmp_path / "ports"
    monkeypatch.setenv(cluster.PORTS_DIR_ENV, str(registry))
    first = free_port()
    assert (registry / str(first)).exists()
    taken, free = [p for p in range(60000, 65536) if p not in ephemeral_ports() and p not in cluster._GIVEN_PORTS][:2]
    registry.joinpath(str(taken)).touch()  # another process gave it out

    class Picks:
        def choice(self, pool: list[int]) -> int:
            return order.pop(0)

    order = [taken, free]
    monkeypatch.setattr(random, "Random", Picks)
    assert free_port() == free
    assert (registry / str(free)).exists()
