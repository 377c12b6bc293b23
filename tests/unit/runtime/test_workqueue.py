"""The reconcile queue: one run per key at a time, triggers coalesce, a trigger during a run runs it again."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from inference_operator.runtime.workqueue import Key, ReconcileQueue

LOG = logging.getLogger("test")
A: Key = ("InferenceDeployment", "ns", "a")
B: Key = ("InferenceDeployment", "ns", "b")


class Recorder:
    """A runner that counts runs per key and can be held inside a run until released."""

    def __init__(self) -> None:
        self.runs: dict[Key, int] = {}
        self.inside = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.concurrent = 0
        self.most_concurrent = 0
        self.lock = threading.Lock()

    def __call__(self, key: Key, _: Any) -> str:
        with self.lock:
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
        self.inside.set()
        self.release.wait(5)
        with self.lock:
            self.concurrent -= 1
            self.runs[key] = self.runs.get(key, 0) + 1
            return f"{key[2]}:{self.runs[key]}"


async def settle(queue: ReconcileQueue) -> None:
    for _ in range(500):
        if not queue.pending:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the queue did not drain")


def test_triggers_of_a_waiting_key_coalesce_into_one_run() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        rec.release.clear()
        queue = ReconcileQueue(rec, workers=1)
        queue.trigger(B, LOG)  # occupies the only worker
        await asyncio.to_thread(rec.inside.wait, 5)
        for _ in range(5):
            queue.trigger(A, LOG)
        rec.release.set()
        await settle(queue)
        return rec

    rec = asyncio.run(scenario())
    assert rec.runs == {A: 1, B: 1}


def test_a_trigger_during_a_run_runs_the_key_once_more_and_never_alongside() -> None:
    async def scenario() -> tuple[Recorder, str]:
        rec = Recorder()
        rec.release.clear()
        queue = ReconcileQueue(rec, workers=4)
        queue.trigger(A, LOG)
        await asyncio.to_thread(rec.inside.wait, 5)
        waiter = asyncio.create_task(queue.run(A, LOG))  # asked while A runs: answered by the next run
        queue.trigger(A, LOG)
        await asyncio.sleep(0.05)
        rec.release.set()
        result = await waiter
        await settle(queue)
        return rec, result

    rec, result = asyncio.run(scenario())
    assert rec.runs == {A: 2}
    assert result == "a:2"
    assert rec.most_concurrent == 1


def test_an_error_reaches_the_waiter() -> None:
    def failing(key: Key, _: Any) -> None:
        raise ValueError(f"no {key[2]}")

    async def scenario() -> None:
        await ReconcileQueue(failing, workers=2).run(A, LOG)

    with pytest.raises(ValueError, match="no a"):
        asyncio.run(scenario())


def test_an_error_nobody_waits_for_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def failing(key: Key, _: Any) -> None:
        raise ValueError("boom")

    async def scenario() -> None:
        queue = ReconcileQueue(failing, workers=1)
        queue.trigger(A, LOG)
        await settle(queue)

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert "reconcile of InferenceDeployment ns/a failed: boom" in caplog.text


def test_abandon_cancels_every_waiter_and_ignores_later_triggers() -> None:
    """The stop path: a waiter of the run in progress and one of a queued key are cancelled at once, though
    the run in progress is still held in its thread; afterwards nothing new runs."""

    async def scenario() -> tuple[Recorder, list[bool], int]:
        rec = Recorder()
        rec.release.clear()
        queue = ReconcileQueue(rec, workers=1)
        running = asyncio.create_task(queue.run(A, LOG))
        await asyncio.to_thread(rec.inside.wait, 5)
        queued = asyncio.create_task(queue.run(B, LOG))  # waits behind A for the only worker
        await asyncio.sleep(0.05)
        busy_while_held = queue.busy
        queue.abandon()
        await asyncio.wait([running, queued], timeout=5)
        cancelled = [running.cancelled(), queued.cancelled()]
        queue.trigger(B, LOG)
        with pytest.raises(asyncio.CancelledError):
            await queue.run(B, LOG)
        rec.release.set()  # the abandoned run ends on its thread, with nobody waiting
        for _ in range(500):
            if not queue.busy:
                break
            await asyncio.sleep(0.01)
        return rec, cancelled, busy_while_held

    rec, cancelled, busy_while_held = asyncio.run(scenario())
    assert cancelled == [True, True]
    assert busy_while_held == 1
    assert rec.runs == {A: 1}, "B ran after the queue was abandoned"


def test_reconcile_threads_never_hold_the_process_at_exit() -> None:
    """ThreadPoolExecutor's threads are joined when the interpreter exits; a reconcile stuck in an API call would
    keep a stopped operator alive until the client's timeout. The queue's are daemon threads."""

    async def scenario() -> None:
        await ReconcileQueue(Recorder(), workers=3).run(A, LOG)

    asyncio.run(scenario())
    threads = [t for t in threading.enumerate() if t.name.startswith("reconcile-")]
    assert threads and all(t.daemon for t in threads)
