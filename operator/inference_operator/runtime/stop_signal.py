"""The operator's SIGTERM/SIGINT handler, kopf-free so the CLI installs it before the slow imports and setup.

A signal during startup then ends the operator with 0 like any other (runtime/operator.py), not with the default
disposition's 143.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    """Records the first stop signal and wakes the main thread; nothing else runs in the handler."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self.wake = threading.Event()

    def install(self) -> StopSignal:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)
        self.wake.set()
