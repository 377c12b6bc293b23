"""Writes the generated CRDs into crds/ and the chart's crds/ (run by `make crds`)."""

from __future__ import annotations

import sys
from pathlib import Path

from .crdgen import crd_files

TARGETS = (Path("crds"), Path("charts/inference-operator/crds"))


def main() -> int:
    for target in TARGETS:
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.yaml"):
            stale.unlink()
        for name, text in crd_files().items():
            (target / name).write_text(text)
            print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
