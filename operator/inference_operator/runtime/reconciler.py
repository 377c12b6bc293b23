"""The one wrapper around every reconcile of both kinds: run on the work queue, counted, errors mapped for kopf.

Error taxonomy (kopf docs, "Errors"): an InvalidSpec is permanent (kopf.PermanentError, never retried; the
controller has written Ready=False with the reason); a KubeError time can fix (unreachable, 409, 429, 5xx) is
retried soon, any other KubeError later (kopf.TemporaryError with a delay); a RetryLater (the Hub not
answering) with a delay that doubles with kopf's retry count. Every outcome, of either kind, is
counted in inference_operator_reconciles_total{kind, result}: success, retry (transient) or error (the rest,
programming errors included).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kopf

from ..api.errors import InvalidSpec, RetryLater
from ..controller.context import Context
from ..controller.engine_build.reconcile import reconcile_engine_build
from ..controller.inference_deployment.reconcile import reconcile_inference_deployment
from ..controller.inference_deployment.revision import retry_delay
from ..controller.weight_cache.reconcile import reconcile_weight_cache
from ..kube.errors import KubeError
from ..metrics import operator as metrics
from .workqueue import Key, ReconcileQueue

Logger = logging.Logger | logging.LoggerAdapter[Any]
INFERENCE_DEPLOYMENT = "InferenceDeployment"
ENGINE_BUILD = "EngineBuild"
WEIGHT_CACHE = "WeightCache"
RECONCILERS: dict[str, Callable[[Context, str, str, Logger], str | None]] = {
    INFERENCE_DEPLOYMENT: reconcile_inference_deployment,
    ENGINE_BUILD: reconcile_engine_build,
    WEIGHT_CACHE: reconcile_weight_cache,
}
TRANSIENT_DELAY_SECONDS = 5
OTHER_API_ERROR_DELAY_SECONDS = 30
MEMO_KEY = "inference_operator"


def outcome(exc: BaseException | None) -> str:
    """The reconcile metric's result label for a run that raised `exc` (None: it did not)."""
    if exc is None:
        return metrics.RESULT_SUCCESS
    if (isinstance(exc, KubeError) and exc.transient) or isinstance(exc, RetryLater):
        return metrics.RESULT_RETRY
    return metrics.RESULT_ERROR


def run_counted(ctx: Context, key: Key, logger: Logger) -> str | None:
    """One reconcile of `key` (kind, namespace, name) on a work-queue thread, counted whatever happens."""
    kind, namespace, name = key
    started = time.monotonic()
    raised: BaseException | None = None
    try:
        return RECONCILERS[kind](ctx, namespace, name, logger)
    except BaseException as exc:
        raised = exc
        raise
    finally:
        metrics.record_reconcile(kind, outcome(raised), time.monotonic() - started)


@dataclass
class OperatorState:
    """What lives as long as the operator: the reconcile context and the work queue (kept in kopf's memo)."""

    ctx: Context
    queue: ReconcileQueue

    @classmethod
    def create(
        cls, ctx: Context, workers: int, ready: threading.Event | None = None, ready_wait: float = 0.0
    ) -> OperatorState:
        """`ready`: what a reconcile waits for (at most `ready_wait` seconds) before its first read, the start's
        listing of the children (runtime/priming.py)."""

        def run(key: Key, logger: Logger) -> str | None:
            if ready is not None and not ready.is_set():
                ready.wait(ready_wait)
            return run_counted(ctx, key, logger)

        return cls(ctx, ReconcileQueue(run, workers))

    def trigger(self, kind: str, namespace: str | None, name: str, logger: Logger) -> None:
        """For triggers from children and related objects: queued, not awaited; the next event retries."""
        self.queue.trigger((kind, namespace or "", name), logger)

    async def reconcile(self, kind: str, namespace: str | None, name: str, logger: Logger, retry: int = 0) -> None:
        """Reconcile and wait, for kopf's change handlers: errors become kopf's permanent or temporary errors;
        `retry`: how often kopf retried this handler already (a dependency outside the cluster backs off)."""
        try:
            await self.queue.run((kind, namespace or "", name), logger)
        except InvalidSpec as exc:
            raise kopf.PermanentError(str(exc)) from None
        except RetryLater as exc:
            raise kopf.TemporaryError(str(exc), delay=retry_delay(retry)) from None
        except KubeError as exc:
            delay = TRANSIENT_DELAY_SECONDS if exc.transient else OTHER_API_ERROR_DELAY_SECONDS
            raise kopf.TemporaryError(str(exc), delay=delay) from None


def state_of(memo: Any) -> OperatorState:
    """The operator's state from kopf's memo (runtime/operator.py puts it there before kopf starts)."""
    state = memo.get(MEMO_KEY) if isinstance(memo, dict) else None
    if not isinstance(state, OperatorState):
        raise RuntimeError("kopf's memo holds no operator state: start the operator with runtime.operator.run")
    return state
