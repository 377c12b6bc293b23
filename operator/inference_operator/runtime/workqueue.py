"""Reconciles by key on a fixed pool of threads, as controller-runtime's work queue runs them.

kopf calls a handler per watch event and, for a sync handler, parks the event (and every later event of the
same object, each a parsed body) until a thread is free. At a thousand resources, the Deployment events
that say "Ready" then wait behind a thousand creations, and the operator's memory grows with them. Handlers
instead hand a key to this queue and return: a key waiting to run is queued once however many events
name it, a key that is triggered while it runs runs once more afterwards (its run may have read the world
before the change), and no two runs of one key overlap.

On shutdown the queue is abandoned, not drained (`abandon`): what waits is dropped, waiters are cancelled, and a
run in progress is left to its thread, a daemon thread, so it never holds the process up. Nothing is lost: every
run is level-based, and the next start reconciles every resource again (kopf's resume handlers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

Key = tuple[str, str, str]  # kind, namespace, name
Runner = Callable[[Key, logging.Logger | logging.LoggerAdapter[Any]], Any]
Logger = logging.Logger | logging.LoggerAdapter[Any]
Work = tuple[Key, Logger, "concurrent.futures.Future[Any]"]


class DaemonThreads:
    """A fixed pool of daemon threads running the runner. Unlike ThreadPoolExecutor's threads, which the
    interpreter joins at exit, a thread stuck in an API call (a frozen API server: up to the client's read
    timeout) does not keep a stopping operator alive."""

    def __init__(self, run: Runner, workers: int) -> None:
        self._run = run
        self._workers = workers
        self._work: queue.SimpleQueue[Work] = queue.SimpleQueue()
        self._busy = 0
        self._started = False
        self._lock = threading.Lock()

    def submit(self, key: Key, logger: Logger) -> concurrent.futures.Future[Any]:
        with self._lock:  # the threads start with the first run
            if not self._started:
                self._started = True
                for i in range(self._workers):
                    threading.Thread(target=self._serve, name=f"reconcile-{i}", daemon=True).start()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._work.put((key, logger, future))
        return future

    @property
    def busy(self) -> int:
        """Runs in progress on a thread right now."""
        with self._lock:
            return self._busy

    def _serve(self) -> None:
        while True:
            key, logger, future = self._work.get()
            if not future.set_running_or_notify_cancel():
                continue  # abandoned before it started
            with self._lock:
                self._busy += 1
            try:
                future.set_result(self._run(key, logger))
            except BaseException as exc:  # handed to the waiting task, as ThreadPoolExecutor does
                future.set_exception(exc)
            finally:
                with self._lock:
                    self._busy -= 1


class ReconcileQueue:
    """Keys to reconcile, run by `workers` threads; all bookkeeping happens on kopf's event loop."""

    def __init__(self, run: Runner, workers: int) -> None:
        self._workers = workers
        self._threads = DaemonThreads(run, workers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._abandoned = False
        self._ready: asyncio.Queue[Key] | None = None
        self._queued: set[Key] = set()
        self._running: set[Key] = set()
        self._again: set[Key] = set()
        self._waiters: dict[Key, list[asyncio.Future[Any]]] = {}
        self._loggers: dict[Key, logging.Logger | logging.LoggerAdapter[Any]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def _start(self) -> asyncio.Queue[Key]:
        """Workers start on first use, on the loop kopf runs handlers on."""
        if self._ready is None:
            self._loop = asyncio.get_running_loop()
            self._ready = asyncio.Queue()
            self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        return self._ready

    def trigger(self, key: Key, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        """Reconcile `key` soon; returns at once. Errors are the runner's to log. Ignored once abandoned."""
        if self._abandoned:
            return
        ready = self._start()
        self._loggers[key] = logger
        if key in self._running:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            ready.put_nowait(key)

    async def run(self, key: Key, logger: logging.Logger | logging.LoggerAdapter[Any]) -> Any:
        """Reconcile `key` and wait for that run's result (or its exception); cancelled once abandoned."""
        if self._abandoned:
            raise asyncio.CancelledError("the operator is stopping")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(future)
        self.trigger(key, logger)
        return await future

    @property
    def pending(self) -> int:
        return len(self._queued) + len(self._running)

    @property
    def busy(self) -> int:
        """Runs still in progress on their threads (an abandoned queue's included). Thread-safe."""
        return self._threads.busy

    def abandon(self) -> None:
        """Stop for good, from any thread: drop what waits, cancel the waiters and the worker tasks.

        Returns at once; the rest happens on the queue's loop. A run in progress finishes (or fails) on its daemon
        thread with nobody waiting. Nothing to keep: the next start reconciles everything again.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            self._abandoned = True
            return
        try:
            loop.call_soon_threadsafe(self._abandon)
        except RuntimeError:  # the loop closed meanwhile: nothing runs on it any more
            self._abandoned = True

    def _abandon(self) -> None:
        self._abandoned = True
        for task in self._tasks:
            task.cancel()
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.cancel()
        self._waiters.clear()
        self._queued.clear()
        self._again.clear()

    async def _worker(self) -> None:
        assert self._ready is not None
        while True:
            key = await self._ready.get()
            self._queued.discard(key)
            self._running.add(key)
            waiters = self._waiters.pop(key, [])
            logger = self._loggers.pop(key)
            try:
                result = await asyncio.wrap_future(self._threads.submit(key, logger))
            except asyncio.CancelledError:  # abandoned: this run's waiters are cancelled too
                for waiter in waiters:
                    waiter.cancel()
                raise
            except Exception as exc:  # handed to whoever waits for this run, else logged
                if not waiters:
                    # Nobody waits (a child's event asked): the next event, or kopf's resume, tries again.
                    logger.warning("reconcile of %s %s/%s failed: %s", *key, exc)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            else:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(result)
            finally:
                self._running.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self.trigger(key, self._loggers.get(key, logger))
