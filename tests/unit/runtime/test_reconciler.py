"""The one wrapper around both kinds' reconciles: every outcome counted, errors mapped to kopf's taxonomy,
both kinds through the work queue, the state in kopf's memo."""

from __future__ import annotations

import asyncio
import logging

import kopf
import pytest

from inference_operator.api.settings import OperatorSettings
from inference_operator.controller.context import Context
from inference_operator.kube.errors import KubeError
from inference_operator.metrics.operator import REGISTRY
from inference_operator.runtime.reconciler import (
    ENGINE_BUILD,
    INFERENCE_DEPLOYMENT,
    MEMO_KEY,
    OperatorState,
    run_counted,
    state_of,
)
from tests.support.fake_kube import FakeKube
from tests.support.samples import TEST_NAMESPACE as NS
from tests.support.samples import sample_body

LOG = logging.getLogger("test")


def count(kind: str, result: str) -> float:
    return REGISTRY.get_sample_value("inference_operator_reconciles_total", {"kind": kind, "result": result}) or 0.0


def state_with(body_sample: str | None = None) -> tuple[OperatorState, FakeKube]:
    fake = FakeKube()
    if body_sample:
        fake.put(sample_body(body_sample))
    return OperatorState.create(Context(kube=fake, settings=OperatorSettings()), workers=2), fake


@pytest.mark.parametrize(
    ("kind", "error", "result"),
    [
        (INFERENCE_DEPLOYMENT, None, "success"),
        (INFERENCE_DEPLOYMENT, KubeError(0, "Unreachable", "refused"), "retry"),
        (INFERENCE_DEPLOYMENT, KubeError(403, "Forbidden", "no"), "error"),
        (ENGINE_BUILD, None, "success"),
        (ENGINE_BUILD, KubeError(503, "ServiceUnavailable", "etcd"), "retry"),
        (ENGINE_BUILD, KubeError(403, "Forbidden", "no"), "error"),
    ],
)
def test_every_outcome_of_both_kinds_is_counted(kind: str, error: KubeError | None, result: str) -> None:
    state, fake = state_with()
    if error is not None:
        fake.fail_next["get"] = error
    before = count(kind, result)
    if error is None:
        assert run_counted(state.ctx, (kind, NS, "absent"), LOG) is None
    else:
        with pytest.raises(KubeError):
            run_counted(state.ctx, (kind, NS, "absent"), LOG)
    assert count(kind, result) == before + 1


def test_an_invalid_spec_is_counted_as_an_error_and_is_permanent_for_kopf() -> None:
    state, fake = state_with("llama-3-1-70b-h100-trtllm")
    fake.body("InferenceDeployment", NS, "llama-3-1-70b-trtllm")["spec"]["resources"].pop("gpuProduct")
    before = count(INFERENCE_DEPLOYMENT, "error")
    with pytest.raises(kopf.PermanentError, match="gpuProduct"):
        asyncio.run(state.reconcile(INFERENCE_DEPLOYMENT, NS, "llama-3-1-70b-trtllm", LOG))
    assert count(INFERENCE_DEPLOYMENT, "error") == before + 1


@pytest.mark.parametrize(
    ("error", "delay"), [(KubeError(409, "Conflict", "x"), 5), (KubeError(403, "Forbidden", "x"), 30)]
)
def test_api_errors_are_temporary_for_kopf(error: KubeError, delay: int) -> None:
    state, fake = state_with()
    fake.fail_next["get"] = error
    with pytest.raises(kopf.TemporaryError) as raised:
        asyncio.run(state.reconcile(ENGINE_BUILD, NS, "b", LOG))
    assert raised.value.delay == delay


def test_the_state_lives_in_kopfs_memo() -> None:
    state, _ = state_with()
    assert state_of(kopf.Memo({MEMO_KEY: state})) is state
    with pytest.raises(RuntimeError, match="memo"):
        state_of(kopf.Memo())
