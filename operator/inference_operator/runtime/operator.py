"""Starting the operator: the client, the state in kopf's memo, kopf's settings, then kopf's own loop; stopping it.

kopf runs on a thread of its own, so the main thread owns SIGTERM and SIGINT and can bound the stop: kopf on the
main thread waits for whatever its tasks and threads are doing (up to 10 minutes, kopf's ultimate exiting
timeout, then SIGKILL). On a signal the work queue is abandoned (waiting handlers cancelled, runs in progress
left to their daemon threads), kopf's stop flag is set, and kopf gets STOP_SECONDS to finish its own tasks. The
process then exits with 0 whatever is left: everything the next start needs is in the API already (the
resources, their children, their status), and it reconciles every resource again. docs/reliability.md says how
long a stop takes, and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import kopf

from ..api.settings import OperatorSettings
from ..controller.context import Context
from ..controller.inference_deployment.hub import HubClient
from ..controller.inference_deployment.revision import HUB
from ..controller.weight_cache.progress import read_progress
from ..kube.client import Kube
from ..metrics import operator as metrics
from . import handlers, memory_probe  # importing handlers registers them with kopf
from .kopf_settings import MAX_WORKERS, configure, only_exact_namespaces
from .priming import PRIME_WAIT_SECONDS, prime_children
from .reconciler import MEMO_KEY, OperatorState
from .stop_signal import StopSignal

# kopf's own stop takes well under a second here (watch streams and retries are cancelled at once, the queue's
# waiters are already cancelled); the bound is for what can hang: a peering or event write to an API server that
# no longer answers. Kubernetes' default grace period is 30 s; the issue's acceptance bound is 10 s.
STOP_SECONDS = 8.0
# A reconcile inside an API call gets this long to finish its write; then it is left to its daemon thread (a call
# to an API server that hangs returns only at the client's 30 s read timeout).
RECONCILE_GRACE_SECONDS = 2.0
logger = logging.getLogger(__name__)


def seniority_priority(started: float) -> int:
    """The peering priority of a replica started at `started` (Unix time), when --priority is not given.

    kopf lets the highest priority work and pauses everyone on a tie, so the replicas of one Deployment, which
    share their arguments, must differ: the earliest started works (a restarted replica comes back as the
    standby instead of taking over), and a random last three digits part two started in the same millisecond.
    """
    return -(int(started * 1000) * 1000 + random.randrange(1000))


class KopfThread:
    """kopf's operator coroutine on its own event loop, in a daemon thread, stopped by its stop flag."""

    def __init__(self, operator: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self._operator = operator
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flag: asyncio.Event | None = None
        self._ready = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.on_finish: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._main, name="kopf", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the main thread, which re-raises it unless stopping
            self.error = exc
        finally:
            self.finished.set()
            self.on_finish()

    async def _serve(self) -> None:
        self._loop, self._flag = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await self._operator(self._flag)

    def stop(self, timeout: float) -> None:
        """Set kopf's stop flag from any thread; waits only for kopf's loop to exist (a signal at startup)."""
        self._ready.wait(timeout=timeout)
        loop, flag = self._loop, self._flag
        if loop is not None and flag is not None:
            with contextlib.suppress(RuntimeError):  # kopf's loop already closed: it has finished
                loop.call_soon_threadsafe(flag.set)


class _NotMainThreadFilter(logging.Filter):
    """kopf warns that it ignores signals off the main thread; here the main thread handles them on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("OS signals are ignored: running not in the main thread")


class RoutineSuccessFilter(logging.Filter):
    """kopf logs "Handler 'x' succeeded." at INFO after every call of every handler. For the handlers that only
    feed the cache or hand a key to the queue (handlers.ROUTINE) that is several lines per child event, 30,000 on a
    restart at 10,000 resources, and says nothing: their failures and the reconciles' own lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or record.getMessage() not in handlers.ROUTINE_SUCCESS_LINES


def run(
    settings: OperatorSettings,
    namespaces: list[str],
    clusterwide: bool,
    peering: str | None,
    priority: int | None = None,
    verbose: bool = False,
    log_format: str = "full",
    stop: StopSignal | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then end the process with 0 within STOP_SECONDS. Blocks.

    `stop`: the handler the CLI installed first thing (else one is installed here).
    """
    stop = stop or StopSignal().install()
    if priority is None:
        priority = seniority_priority(time.time())
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat[log_format.upper()])
    logging.getLogger("kopf._core.reactor.running").addFilter(_NotMainThreadFilter())
    if not verbose:
        logging.getLogger("kopf.objects").addFilter(RoutineSuccessFilter())
    memory_probe.install()
    kube = Kube.from_environment(connections=MAX_WORKERS)
    hub = HubClient(settings.hub_endpoint or HUB)
    context = Context(kube=kube, settings=settings, read_progress=read_progress, ask_hub=hub.revision)
    primed = threading.Event()
    state = OperatorState.create(context, workers=MAX_WORKERS, ready=primed, ready_wait=PRIME_WAIT_SECONDS)
    metrics.start_metrics_server(settings.metrics_port)

    @kopf.on.startup()
    async def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings, peering, exact_namespaces=not clusterwide and only_exact_namespaces(namespaces))

    def operator(stop_flag: asyncio.Event) -> Coroutine[Any, Any, None]:
        return kopf.operator(
            standalone=peering is None,
            peering_name=peering,
            priority=priority,
            clusterwide=clusterwide,
            namespaces=namespaces,
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
            memo=kopf.Memo({MEMO_KEY: state}),
            stop_flag=stop_flag,
        )

    if stop.received is not None:
        logger.info("%s received while starting: stopped", stop.received.name)
        return
    threading.Thread(
        target=prime_children, args=(kube, namespaces, clusterwide, primed), name="prime", daemon=True
    ).start()
    runner = KopfThread(operator)
    runner.on_finish = stop.wake.set
    runner.start()
    while not stop.wake.wait(timeout=1.0):
        pass
    if stop.received is None:  # kopf ended by itself (a fatal error): as before, the caller sees why
        if runner.error is not None:
            raise runner.error
        return
    _stop(stop.received, state, runner)


def _stop(received: signal.Signals, state: OperatorState, runner: KopfThread) -> None:
    logger.info("%s received: stopping within %.0f s", received.name, STOP_SECONDS)
    started = time.monotonic()
    deadline, grace = started + STOP_SECONDS, started + RECONCILE_GRACE_SECONDS
    state.queue.abandon()
    runner.stop(timeout=STOP_SECONDS)
    finished = runner.finished.wait(timeout=max(0.0, deadline - time.monotonic()))
    while state.queue.busy and time.monotonic() < grace:  # a run in progress may finish its writes meanwhile
        time.sleep(0.05)
    busy = state.queue.busy
    if finished and busy == 0:
        logger.info("stopped")
    else:  # what is left is abandoned, not lost: the next start reconciles every resource again
        left = [] if finished else ["kopf's own tasks"]
        left += [f"{busy} reconcile(s) in an API call"] if busy else []
        logger.warning("stopping without waiting for %s", " and ".join(left))
    # Exit here: nothing left needs a finalizer (the state is in the API), and the interpreter's own teardown of
    # this process took seconds on a loaded machine (3.5 s seen after "stopped").
    logging.shutdown()  # flush the log: os._exit skips the interpreter's exit handlers
    os._exit(0)
