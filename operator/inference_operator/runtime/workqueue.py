"""Reconciles by key on a fixed pool of threads, as controller-runtime's work queue runs them.

kopf calls a handler per watch event and, for a sync handler, parks the event (and every later event of the
same object, each a parsed body) until a thread is free. At a thousand resources, the Deployment events
that say "Ready" then wait behind a thousand creations, and the operator's memory grows with them. Handlers
instead hand a key to this queue and return: a key waiting to run is queued once however many events
name it, a key that is triggered while it runs runs once more afterwards (its run may have read the world
before the change), and no two runs of one key overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Key = tuple[str, str, str]  # kind, namespace, name
Runner = Callable[[Key, logging.Logger | logging.LoggerAdapter[Any]], Any]


class ReconcileQueue:
    """Keys to reconcile, run by `workers` threads; all bookkeeping happens on kopf's event loop."""

    def __init__(self, run: Runner, workers: int) -> None:
        self._run = run
        self._workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile")
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
            self._ready = asyncio.Queue()
            self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        return self._ready

    def trigger(self, key: Key, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        """Reconcile `key` soon; returns at once. Errors are the runner's to log."""
        ready = self._start()
        self._loggers[key] = logger
        if key in self._running:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            ready.put_nowait(key)

    async def run(self, key: Key, logger: logging.Logger | logging.LoggerAdapter[Any]) -> Any:
        """Reconcile `key` and wait for that run's result (or its exception)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(future)
        self.trigger(key, logger)
        return await future

    @property
    def pending(self) -> int:
        return len(self._queued) + len(self._running)

    async def _worker(self) -> None:
        assert self._ready is not None
        loop = asyncio.get_running_loop()
        while True:
            key = await self._ready.get()
            self._queued.discard(key)
            self._running.add(key)
            waiters = self._waiters.pop(key, [])
            logger = self._loggers.pop(key)
            try:
                result = await loop.run_in_executor(self._executor, self._run, key, logger)
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
