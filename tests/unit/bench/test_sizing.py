"""N = 10,000 on the bench's own bed: room for every half's pods, and phases whose deadlines grow with N."""

from __future__ import annotations

import pytest
from bench import bed


@pytest.mark.parametrize(("n", "halves"), [(20, 2), (1000, 3), (10_000, 2), (10_000, 3)])
def test_the_nodes_hold_every_halfs_pods_with_room_to_spare(n: int, halves: int) -> None:
    nodes = bed.nodes_needed(n, halves)
    # The halves' namespaces live until the round ends: all their pods at once, plus a rollout's surge per node.
    assert nodes * bed.PODS_PER_NODE >= halves * n + 100 * nodes


def test_ten_thousand_with_the_peer_is_thirty_one_nodes() -> None:
    assert bed.nodes_needed(10_000, halves=3) == 31
