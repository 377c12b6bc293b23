"""The image table (images.yaml): which local directories an image's commands come from."""

from __future__ import annotations

import fnmatch
import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # what container runtimes set


class ImageError(Exception):
    """The container cannot start from its image; `reason` is the container's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ImageEntry:
    pattern: str
    path: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    stand_in: bool = False
    # The process runs on the CPU whatever GPUs the pod holds, so it may hold the stand-in GPUs (never a stand-in)
    cpu_on_stand_in_gpus: bool = False
    install: str = ""

    def may_hold_stand_in_gpus(self) -> bool:
        return self.stand_in or self.cpu_on_stand_in_gpus

    def expose(self) -> list[str]:
        """Host directories the container must see: the bin dirs, a venv's root and the Python it was made from."""
        out: list[str] = []
        for d in self.path:
            out.append(d)
            if self.stand_in:
                # A stand-in's wrapper runs the server beside its bin dir (standin-bin/../standin_openai.py): a
                # checkout under a directory pods do not see (/tmp, /root) must still show it to the pod.
                out.append(str(Path(d).parent))
            cfg = Path(d).parent / "pyvenv.cfg"
            if cfg.is_file():
                out.append(str(Path(d).parent))
                for line in cfg.read_text().splitlines():
                    key, _, value = line.partition("=")
                    if key.strip() == "home":
                        out.append(str(Path(value.strip()).parent))
        return out


def _normalized(image: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if image.startswith(prefix):
            return image[len(prefix) :]
    return image


class ImageTable:
    def __init__(self, file: Path, variables: dict[str, str]) -> None:
        self.file = file
        raw: dict[str, Any] = yaml.safe_load(file.read_text()) or {}
        self.entries: list[ImageEntry] = []
        for i, item in enumerate(raw.get("images") or []):
            if not isinstance(item, dict) or not isinstance(item.get("pattern"), str):
                raise ValueError(f"{file}: images[{i}].pattern: a string is required")
            paths = item.get("path") or []
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise ValueError(f"{file}: images[{i}].path: a list of directories is required")
            self.entries.append(
                ImageEntry(
                    pattern=item["pattern"],
                    path=tuple(string.Template(p).substitute(variables) for p in paths),
                    env={str(k): str(v) for k, v in (item.get("env") or {}).items()},
                    stand_in=bool(item.get("standIn", False)),
                    cpu_on_stand_in_gpus=bool(item.get("cpuOnStandInGpus", False)),
                    install=str(item.get("install", "")),
                )
            )

    def lookup(self, image: str) -> ImageEntry:
        for entry in self.entries:
            if fnmatch.fnmatchcase(image, entry.pattern) or fnmatch.fnmatchcase(_normalized(image), entry.pattern):
                missing = [d for d in entry.path if not Path(d).is_dir()]
                if missing:
                    hint = f"; install it with {entry.install}" if entry.install else ""
                    raise ImageError(
                        "ImageNotInstalled", f'image "{image}" maps to {", ".join(missing)}, which is missing{hint}'
                    )
                return entry
        raise ImageError("ImageNotMapped", f'image "{image}" has no entry in the node agent\'s image table {self.file}')


def resolve_command(name: str, env_path: str) -> str | None:
    """command[0] as the runtime finds it: a path as given, else the first executable on the container's PATH."""
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for d in env_path.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
