"""The serving children's event handlers: they feed the read cache (a reconcile then reads no GET), and trigger
the parent only for a change it must see, not for a child first seen in the listing at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, cast

import kopf
import kubernetes
import pytest

from inference_operator.api.labels import (
    COMPONENT_SERVING,
    LABEL_COMPONENT,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED_BY,
    MANAGED_BY,
)
from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.kube.client import Kube
from inference_operator.runtime import handlers
from inference_operator.runtime.operator import RoutineSuccessFilter
from inference_operator.runtime.reconciler import INFERENCE_DEPLOYMENT, MEMO_KEY, OperatorState

LOG = logging.getLogger("test")
TRIGGERED: list[tuple[str, str | None, str]] = []  # what the state was asked to reconcile (the fixture's trigger)
Handler = Callable[..., Coroutine[Any, Any, None]]
LABELS = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: COMPONENT_SERVING, LABEL_DEPLOYMENT: "m"}


def child(kind: str, name: str, rv: int, **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "ns", "resourceVersion": str(rv), "labels": LABELS, "generation": 1}
    return {"kind": kind, "metadata": meta, **fields}


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch) -> OperatorState:
    kube = Kube(kubernetes.client.ApiClient())

    def no_api(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the API server was asked: {args}")

    monkeypatch.setattr(kube, "_call", no_api)
    state = OperatorState.create(Context(kube=kube, settings=OperatorSettings()), workers=1)
    monkeypatch.setattr(state, "trigger", lambda kind, ns, name, logger: TRIGGERED.append((kind, ns, name)))
    TRIGGERED.clear()
    return state


def event(state: OperatorState, on_event: Any, obj: dict[str, Any], type: str | None) -> list[Any]:
    """One watch event as kopf delivers it to the event handler; what it triggered."""
    TRIGGERED.clear()
    memo = {MEMO_KEY: state}
    asyncio.run(cast(Handler, on_event)(body=obj, type=type, namespace="ns", memo=memo, logger=LOG))
    return list(TRIGGERED)


PARENT = [(INFERENCE_DEPLOYMENT, "ns", "m")]


def deployment_event(state: OperatorState, obj: dict[str, Any], type: str | None) -> list[Any]:
    return event(state, handlers.on_serving_deployment, obj, type)


def service_event(state: OperatorState, obj: dict[str, Any], type: str | None) -> list[Any]:
    return event(state, handlers.on_serving_service, obj, type)


def test_a_deployment_in_the_start_listing_leaves_its_parent_to_its_resume(state: OperatorState) -> None:
    assert deployment_event(state, child("Deployment", "m-vllm", 5, status={"readyReplicas": 1}), None) == []
    assert service_event(state, child("Service", "m", 5, spec={"ports": []}), None) == []
    # a later listing (kopf lists again after a watch error) of a known one that changed meanwhile does trigger
    assert deployment_event(state, child("Deployment", "m-vllm", 8, status={"readyReplicas": 0}), None) == PARENT


def test_a_new_deployment_triggers_its_parent_once_and_its_status_echo_does_not(state: OperatorState) -> None:
    assert deployment_event(state, child("Deployment", "m-vllm", 5, status={"readyReplicas": 1}), "ADDED") == PARENT
    # the same facts again (a status field nothing reads changed)
    again = child("Deployment", "m-vllm", 6, status={"readyReplicas": 1, "conditions": []})
    assert deployment_event(state, again, "MODIFIED") == []
    assert deployment_event(state, child("Deployment", "m-vllm", 7, status={"readyReplicas": 0}), "MODIFIED") == PARENT


def test_a_child_once_seen_is_read_from_memory_and_one_never_seen_is_asked(state: OperatorState) -> None:
    deployment_event(state, child("Deployment", "m-vllm", 5), None)
    service_event(state, child("Service", "m", 5, spec={"ports": []}), None)
    assert state.ctx.kube.get("Deployment", "ns", "m-vllm") is not None
    assert state.ctx.kube.get("Service", "ns", "m") is not None
    with pytest.raises(AssertionError, match="the API server was asked"):
        state.ctx.kube.get("Deployment", "ns", "m-trtllm")


def test_a_deleted_deployment_triggers_its_parent_and_is_absent(state: OperatorState) -> None:
    deployment_event(state, child("Deployment", "m-vllm", 5), None)
    assert deployment_event(state, child("Deployment", "m-vllm", 9), "DELETED") == PARENT
    assert state.ctx.kube.get("Deployment", "ns", "m-vllm") is None


def test_a_service_edited_or_deleted_by_someone_else_triggers_its_parent(state: OperatorState) -> None:
    spec = {"selector": {"inference-operator.dev/engine": "vllm"}, "ports": [{"port": 8000}]}
    assert service_event(state, child("Service", "m", 3, spec=spec), None) == []
    assert service_event(state, child("Service", "m", 4, spec=spec), "MODIFIED") == []  # our apply's echo
    edited = {**spec, "selector": {"app": "other"}}
    assert service_event(state, child("Service", "m", 5, spec=edited), "MODIFIED") == PARENT
    assert service_event(state, child("Service", "m", 6, spec=edited), "DELETED") == PARENT
    assert state.ctx.kube.get("Service", "ns", "m") is None


def test_an_inference_deployment_is_cached_by_its_event_and_forgotten_when_deleted(state: OperatorState) -> None:
    memo = {MEMO_KEY: state}
    meta = {"name": "m", "namespace": "ns", "resourceVersion": "4"}
    body: dict[str, Any] = {"kind": "InferenceDeployment", "metadata": meta}
    asyncio.run(cast(Handler, handlers.on_inference_deployment_event)(body=body, type=None, memo=memo, logger=LOG))
    assert state.ctx.kube.get("InferenceDeployment", "ns", "m") == body
    gone = {**body, "metadata": {**meta, "resourceVersion": "5"}}
    asyncio.run(cast(Handler, handlers.on_inference_deployment_event)(body=gone, type="DELETED", memo=memo, logger=LOG))
    assert state.ctx.kube.get("InferenceDeployment", "ns", "m") is None


def test_the_routine_success_lines_name_handlers_kopf_knows() -> None:
    registered = {h.id for h in kopf.get_default_registry()._watching.get_all_handlers()}
    assert set(handlers.ROUTINE) <= registered, set(handlers.ROUTINE) - registered
    assert "on_inference_deployment" not in handlers.ROUTINE  # a reconcile's own success line stays


def test_the_log_keeps_every_line_but_a_routine_handlers_success() -> None:
    def record(level: int, message: str) -> logging.LogRecord:
        return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)

    keep = RoutineSuccessFilter().filter
    assert not keep(record(logging.INFO, "Handler 'on_serving_deployment' succeeded."))
    assert keep(record(logging.INFO, "Handler 'on_inference_deployment' succeeded."))
    assert keep(record(logging.ERROR, "Handler 'on_serving_deployment' failed with an exception. Will retry."))
