"""A weight cache entry's phase and progress (status.phase, status.bytesDone: every 10 s while it downloads)
trigger only the resources asking for that entry, not every resource of the namespace."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, cast

import pytest

from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.controller.inference_deployment.reconcile import reconcile_inference_deployment
from inference_operator.runtime.handlers import on_weight_cache_phase
from inference_operator.runtime.reconciler import INFERENCE_DEPLOYMENT, MEMO_KEY, OperatorState
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")
OTHER_NS = "team-b"
# kopf's decorator types the handler as its own callback protocol; it is the coroutine function as written.
HANDLER = cast(Callable[..., Coroutine[Any, Any, None]], on_weight_cache_phase)


def resource(fake: FakeKube, name: str, revision: str = "main", cache: bool = True, namespace: str = NS) -> None:
    body = sample_body("cpu-small")
    body["metadata"] = {**body["metadata"], "name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}
    body["spec"]["model"]["revision"] = revision
    body["spec"]["model"]["cache"] = {"enabled": cache, "size": "2Gi"}
    fake.put(body)


def entry_of(fake: FakeKube, namespace: str, name: str) -> str:
    return str(fake.body("InferenceDeployment", namespace, name)["status"]["weights"]["entry"])


def triggered_by(state: OperatorState, monkeypatch: pytest.MonkeyPatch, entry: str, namespace: str = NS) -> list[Any]:
    seen: list[tuple[str, str | None, str]] = []
    monkeypatch.setattr(state, "trigger", lambda kind, ns, name, logger: seen.append((kind, ns, name)))
    asyncio.run(HANDLER(name=entry, namespace=namespace, logger=LOG, memo={MEMO_KEY: state}))
    return seen


def test_an_entrys_progress_triggers_only_the_resources_asking_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKube()
    state = OperatorState.create(Context(kube=fake, settings=OperatorSettings()), workers=1)
    resource(fake, "a")
    resource(fake, "b")
    resource(fake, "other-revision", revision="r2")
    resource(fake, "uncached", cache=False)
    resource(fake, "a", namespace=OTHER_NS)  # the same key in another namespace: an entry of its own there
    for ns, name in (*((NS, n) for n in ("a", "b", "other-revision", "uncached")), (OTHER_NS, "a")):
        reconcile_inference_deployment(state.ctx, ns, name, LOG)
    entry = entry_of(fake, NS, "a")
    assert entry == entry_of(fake, NS, "b") != entry_of(fake, NS, "other-revision")
    assert triggered_by(state, monkeypatch, entry) == [(INFERENCE_DEPLOYMENT, NS, "a"), (INFERENCE_DEPLOYMENT, NS, "b")]

    fake.delete("InferenceDeployment", NS, "a")
    reconcile_inference_deployment(state.ctx, NS, "a", LOG)  # gone: it asks for nothing any more
    resource(fake, "b", revision="r2")  # b moves to r2's entry
    reconcile_inference_deployment(state.ctx, NS, "b", LOG)
    assert triggered_by(state, monkeypatch, entry) == []
    r2 = entry_of(fake, NS, "other-revision")
    assert triggered_by(state, monkeypatch, r2) == [
        (INFERENCE_DEPLOYMENT, NS, "b"),
        (INFERENCE_DEPLOYMENT, NS, "other-revision"),
    ]
