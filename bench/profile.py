"""`python -m bench.profile FILE`: where the operator's time went, from py-spy's raw (collapsed) stacks.

`python -m bench.fleet --profile` leaves `operator-N.pyspy.txt` in the run's directory under
`.testbed-bench/runs/`: one line per distinct stack, `frame;frame;...;frame COUNT`, root first.
Prints the functions with the most samples on the stack (inclusive) and at its top (self), and the share of
samples per package, which is how the fixes in docs/benchmarks.md were chosen.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
_PACKAGES = ("inference_operator", "kopf", "kubernetes", "urllib3", "aiohttp", "pydantic", "json", "ssl", "asyncio")


def parse(text: str) -> list[tuple[list[str], int]]:
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def where(frame: str) -> str:
    """`func (path/to/module.py:12)` -> `module.py:func`, short enough to read in a table."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    return f"{Path(match.group('file')).name}:{match.group('func')}"


def package(frame: str) -> str:
    for name in _PACKAGES:
        if f"/{name}/" in frame or f"{name}.py" in frame:
            return name
    return "other"


def summarize(stacks: list[tuple[list[str], int]], top: int) -> str:
    total = sum(count for _, count in stacks) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for frames, count in stacks:
        for name in {where(f) for f in frames}:
            inclusive[name] += count
        own[where(frames[-1])] += count
        packages[package(frames[-1])] += count
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own), ("self by package", packages)):
        lines.append(f"\n{title}:")
        lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--only", default="", help="keep only stacks with a frame containing this text")
    args = parser.parse_args(argv)
    stacks = [(f, c) for f, c in parse(args.file.read_text()) if not args.only or any(args.only in x for x in f)]
    print(summarize(stacks, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
