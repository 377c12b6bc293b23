"""The restart's reads: GET, LIST and WATCH of the fleet's kinds only."""

from __future__ import annotations

from collections import Counter

from bench.apimetrics import RequestKey, fleet_reads


def test_only_reads_of_the_fleets_kinds_are_counted() -> None:
    counts = Counter(
        {
            RequestKey("GET", "", "services", ""): 3,
            RequestKey("GET", "apps", "deployments", ""): 2,
            RequestKey("LIST", "inference-operator.dev", "inferencedeployments", ""): 1,
            RequestKey("GET", "", "pods", ""): 9,
            RequestKey("APPLY", "", "services", ""): 4,
        }
    )
    assert fleet_reads(counts) == Counter(
        {
            RequestKey("GET", "", "services", ""): 3,
            RequestKey("GET", "apps", "deployments", ""): 2,
            RequestKey("LIST", "inference-operator.dev", "inferencedeployments", ""): 1,
        }
    )
