"""The load client of the traffic tests (tests/support/load.py), without a cluster: its EndpointSlice reads are
replaced by a list the test changes, its requests by a recorder."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.support.cluster import wait_for
from tests.support.load import LoadClient, endpoints_of_slices
from tests.support.real_engine import Endpoint

A = Endpoint("pod-a", "10.0.0.1", 8000)
B = Endpoint("pod-b", "10.0.0.2", 8000)


class ScriptedClient(LoadClient):
    """Reads `self.listed` instead of the API; `fail_reads` makes every read raise."""

    listed: list[Endpoint]
    fail_reads = False

    def _api(self) -> Any:
        return None

    def _read(self, api: Any) -> list[Endpoint]:
        if self.fail_reads:
            raise TimeoutError("the API server did not answer")
        return list(self.listed)


def client(send: Any, workers: int = 1) -> ScriptedClient:
    c = ScriptedClient(Path("unused"), "ns", "svc", send, workers=workers, refresh=0.02)
    c.listed = [A]
    return c


def test_the_client_sends_without_pause() -> None:
    sent: list[float] = []
    c = client(lambda endpoint, timeout: sent.append(time.monotonic())).start()
    wait_for("a thousand requests", lambda: len(sent) >= 1000, 10)
    c.stop()


def test_requests_follow_the_ready_endpoints_and_failures_name_their_cause() -> None:
    lock = threading.Lock()
    by_pod: dict[str, int] = {}

    def send(endpoint: Endpoint, timeout: float) -> None:
        if endpoint == B and c.listed == [A]:
            raise ConnectionRefusedError()
        with lock:
            by_pod[endpoint.pod] = by_pod.get(endpoint.pod, 0) + 1

    c = client(send)
    c.start()
    wait_for("answers from a", lambda: by_pod.get("pod-a", 0) >= 5, 10)
    c.listed = [A, B]
    wait_for("answers from b", lambda: by_pod.get("pod-b", 0) >= 5, 10)
    report = c.stop()
    assert report.failed == 0
    assert report.by_pod.keys() == {"pod-a", "pod-b"}
    assert [pods for _, pods in report.endpoint_sets][:2] == [("pod-a",), ("pod-a", "pod-b")]


def test_a_gap_without_ready_endpoints_is_reported_and_nothing_is_sent_in_it() -> None:
    sent: list[Endpoint] = []
    c = client(lambda endpoint, timeout: sent.append(endpoint))
    c.start()
    wait_for("a few requests", lambda: len(sent) >= 3, 10)
    c.listed = []
    wait_for("the empty read", lambda: c._endpoints == [], 10)
    count = len(sent)
    time.sleep(0.2)  # nothing may be sent while no endpoint is ready; this only gives the workers the chance
    assert len(sent) <= count + 2  # a request picked just before the read may still go out
    c.listed = [A]
    wait_for("requests again", lambda: len(sent) > count + 3, 10)
    report = c.stop()
    assert len(report.gaps) == 1 and report.gaps[0].end is not None


def test_failed_endpoint_reads_are_counted_and_the_last_view_kept() -> None:
    sent: list[Endpoint] = []
    c = client(lambda endpoint, timeout: sent.append(endpoint))
    c.start()
    wait_for("a few requests", lambda: len(sent) >= 3, 10)
    c.fail_reads = True
    wait_for("failed reads", lambda: c._read_errors >= 3, 10)
    reads = c._reads
    c.fail_reads = False
    wait_for("a read again", lambda: c._reads > reads, 10)
    report = c.stop()
    assert report.read_errors >= 3 and report.failed == 0
    assert report.longest_between_reads >= 0.04  # the failed reads left the view older than one refresh
    assert "failed, longest" in report.summary()


def test_endpoints_of_slices_keeps_ready_endpoints_of_the_named_port() -> None:
    slices = [
        {
            "ports": [{"name": "http", "port": 8000}],
            "endpoints": [
                {"addresses": ["10.0.0.2"], "conditions": {"ready": True}, "targetRef": {"name": "pod-b"}},
                {"addresses": ["10.0.0.3"], "conditions": {"ready": False}, "targetRef": {"name": "pod-c"}},
                {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "targetRef": {"name": "pod-a"}},
            ],
        },
        {"ports": [{"name": "metrics", "port": 9000}], "endpoints": [{"addresses": ["10.0.0.9"]}]},
    ]
    assert endpoints_of_slices(slices) == [A, B]
