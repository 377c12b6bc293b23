"""Starts one container's process: run as `ip netns exec NETNS python -m agent.launch SPEC.json`.

`ip netns exec` has already put this process in the pod's network namespace and in a mount namespace of its
own (with `/` remounted as a slave, so nothing mounted here reaches the host). This builds the container's view
of the file system and execs the command, keeping the pid, so the agent's pid is the container's process:
- a tmpfs as the new root, every top-level entry of the host's `/` bind-mounted (or symlinked) into it, except
  `/root` (an empty directory, as in an image) and `/tmp` (a fresh tmpfs); the image's own directories
  (`expose`) are bound at their host paths, so a venv under /root works for any uid;
- a fresh tmpfs at `/dev/shm`; each volumeMount bound at its mountPath, read-only where asked;
- chroot, workingDir, then setgroups/setgid/setuid to runAsUser/runAsGroup (no passwd entry is needed, as in a
  container) and exec with exactly the container's environment.
Stdlib only: it runs before anything else in the pod.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path
from typing import Any

MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
HIDDEN = ("root", "tmp")

_libc = ctypes.CDLL(None, use_errno=True)


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def in_root(root: str, path: str) -> str:
    """`path` inside the new root, its symlinks resolved within the root (as runc's securejoin does): /var/run
    -> /run must lead to <root>/run, never to the host's /run."""
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    for _ in range(64):
        if not parts:
            return root + "/" + "/".join(resolved)
        part = parts.pop(0)
        if part == "..":
            resolved = resolved[:-1]
            continue
        here = root + "/" + "/".join([*resolved, part])
        if os.path.islink(here):
            link = os.readlink(here)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p] + parts
        elif part != ".":
            resolved.append(part)
    raise OSError(40, f"too many symlinks in {path}")


def bind(source: str, target: str, read_only: bool = False) -> None:
    if Path(source).is_dir():
        Path(target).mkdir(parents=True, exist_ok=True)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).touch(exist_ok=True)
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def build_root(root: str, expose: list[str]) -> None:
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", 0, "mode=755")
    for entry in sorted(os.listdir("/")):
        host, inside = f"/{entry}", f"{root}/{entry}"
        if entry in HIDDEN:
            os.mkdir(inside, 0o755)
        elif os.path.islink(host):
            os.symlink(os.readlink(host), inside)
        elif os.path.isdir(host) or os.path.isfile(host):
            bind(host, inside)
    mount("tmpfs", f"{root}/tmp", "tmpfs", 0, "mode=1777")
    mount("tmpfs", f"{root}/dev/shm", "tmpfs", 0, "mode=1777")
    for path in expose:
        if path.split("/")[1] in HIDDEN and os.path.exists(path):
            bind(path, in_root(root, path))


def main(spec_path: str) -> int:
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    root = spec["root"]
    try:
        build_root(root, spec["expose"])
        for m in sorted(spec["mounts"], key=lambda m: len(m["target"])):
            bind(m["source"], in_root(root, m["target"]), m["readOnly"])
        workdir = spec["workingDir"] or "/"
        Path(in_root(root, workdir)).mkdir(parents=True, exist_ok=True)
        if spec.get("cpus"):
            os.sched_setaffinity(0, spec["cpus"])  # the pod's CPU set; inherited by every process it starts
        os.chroot(root)
        os.chdir(workdir)
        os.setgroups(spec["groups"])
        os.setgid(spec["gid"])
        os.setuid(spec["uid"])
        os.umask(0o022)
        os.execve(spec["path"], spec["argv"], spec["env"])
    except OSError as exc:
        print(f"testbed node agent: cannot start the container: {exc}", file=sys.stderr, flush=True)
        return 128
    return 0  # not reached: execve replaced the process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
