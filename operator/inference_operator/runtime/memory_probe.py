"""Where the operator's memory goes, for diagnosis (docs/benchmarks.md, "Memory at 10,000").

With INFOP_TRACEMALLOC=FILE in its environment the operator starts Python's tracemalloc (one frame per
allocation, INFOP_TRACEMALLOC_FRAMES for more) and, on each SIGUSR2, writes the allocation sites that hold the
most memory to FILE: the total traced, then one line per site, largest first. tracemalloc costs memory and time
of its own, so it is off unless asked for; the figures it gives are the Python heap, not the process's RSS.
"""

from __future__ import annotations

import logging
import os
import signal
import tracemalloc
from pathlib import Path
from types import FrameType

ENV = "INFOP_TRACEMALLOC"
FRAMES_ENV = "INFOP_TRACEMALLOC_FRAMES"
TOP = 60

logger = logging.getLogger(__name__)


def install(env: dict[str, str] | None = None) -> Path | None:
    """Start tracing and handle SIGUSR2 when the environment asks for it; returns the report's path."""
    env = dict(os.environ) if env is None else env
    raw = env.get(ENV, "").strip()
    if not raw:
        return None
    path = Path(raw)
    tracemalloc.start(max(1, int(env.get(FRAMES_ENV, "1") or "1")))

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        write_report(path)

    signal.signal(signal.SIGUSR2, on_signal)
    logger.info("tracemalloc on: SIGUSR2 writes the largest allocation sites to %s", path)
    return path


def report(snapshot: tracemalloc.Snapshot, top: int = TOP) -> str:
    """The total and the `top` largest sites of a snapshot, one per line: size in MB, blocks, site."""
    stats = snapshot.statistics("traceback" if tracemalloc.get_traceback_limit() > 1 else "lineno")
    total = sum(s.size for s in stats)
    lines = [f"total {total / 1e6:.1f} MB in {sum(s.count for s in stats)} blocks"]
    for stat in stats[:top]:
        frames = " <- ".join(f"{f.filename}:{f.lineno}" for f in stat.traceback)
        lines.append(f"{stat.size / 1e6:9.2f} MB {stat.count:9d} {frames}")
    return "\n".join(lines) + "\n"


def write_report(path: Path) -> None:
    if not tracemalloc.is_tracing():
        return
    text = report(tracemalloc.take_snapshot())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    logger.info("tracemalloc: wrote %s (%s)", path, text.splitlines()[0])
