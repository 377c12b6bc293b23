"""runtime/priming.py: where the start's listing looks (as kopf reads --namespace) and that it always lets the
reconciles go, listed or not."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from inference_operator.api.labels import SERVING_SELECTOR
from inference_operator.kube.errors import KubeError
from inference_operator.runtime import priming, reconciler
from inference_operator.runtime.reconciler import OperatorState


def test_plain_names_are_listed_one_by_one_and_globs_by_one_listing_kept_where_kopf_matches() -> None:
    where, covers = priming.scope(["team-a", "team-b"], clusterwide=False)
    assert where == ["team-a", "team-b"] and covers("team-a") and not covers("team-c")
    where, covers = priming.scope(["bench-*, !bench-x"], clusterwide=False)  # one pattern: kopf takes any
    assert where is None and covers("bench-1") and not covers("bench-x") and not covers("other")
    where, covers = priming.scope([], clusterwide=True)
    assert where is None and covers("anything")


class _Kube:
    def __init__(self, fail: set[str]) -> None:
        self.fail = fail
        self.listed: list[tuple[str, list[str] | None, str]] = []

    def prime(self, kind: str, where: list[str] | None, selector: str, covers: Callable[[str], bool]) -> int:
        if kind in self.fail:
            raise KubeError(403, "Forbidden", "no list")
        self.listed.append((kind, where, selector))
        return 7


def test_each_kind_is_listed_by_the_serving_labels_and_a_refused_one_does_not_stop_the_start() -> None:
    kube = _Kube(fail={"Deployment"})
    done = threading.Event()
    priming.prime_children(kube, ["ns"], False, done)  # type: ignore[arg-type]
    assert done.is_set()
    assert kube.listed == [("Service", ["ns"], SERVING_SELECTOR)]
    assert "app.kubernetes.io/managed-by=" in SERVING_SELECTOR


def test_reconciles_wait_for_the_listing_and_run_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    ready = threading.Event()
    ran: list[Any] = []
    monkeypatch.setattr(reconciler, "run_counted", lambda ctx, key, logger: ran.append(key))
    state = OperatorState.create(None, workers=1, ready=ready, ready_wait=30)  # type: ignore[arg-type]
    run = state.queue._threads._run  # what each of the queue's threads calls
    worker = threading.Thread(target=run, args=(("InferenceDeployment", "ns", "a"), None))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive() and ran == []  # waiting for the listing
    ready.set()
    worker.join(5)
    assert ran == [("InferenceDeployment", "ns", "a")]
