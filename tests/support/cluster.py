"""What tests and the bench use to talk to a cluster as a user would (kubectl), and to wait with a deadline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.25,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds, adding what
    `explain` returns then (the cluster's state, a log's end) to the failure."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    detail = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last seen: {last!r}){detail}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    kubeconfig: Path
    kubectl_bin: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below, with kubectl's message
            [str(self.kubectl_bin), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def apply(
        self, obj: dict[str, Any] | str, namespace: str, *extra: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        text = obj if isinstance(obj, str) else yaml.safe_dump(obj)
        return self.kubectl("apply", "-n", namespace, "-f", "-", *extra, input=text, check=check)

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        proc = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name}: {proc.stderr.strip()}")
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-n", namespace, "-o", "json"]
        if selector:
            args += ["-l", selector]
        items: list[dict[str, Any]] = json.loads(self.kubectl(*args).stdout)["items"]
        return items

    def status(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        obj = self.get(kind, name, namespace) or {}
        status: dict[str, Any] = obj.get("status") or {}
        return status

    def wait_established(self, crd: str, timeout: float = 60.0) -> None:
        """Poll a CRD until Established; `kubectl wait` errors out instead while the CRD has no conditions yet."""

        def established() -> bool:
            conditions = (self.get("crd", crd, "default") or {}).get("status", {}).get("conditions") or []
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        wait_for(f"CRD {crd} Established", established, timeout=timeout)
        # Established can come before the API server's discovery documents list the resource, and a client that
        # starts in between (kopf scans discovery at start) finds no such resource: wait for discovery too.
        plural, _, group = crd.partition(".")

        def discovered() -> bool:
            listed = self.kubectl("api-resources", f"--api-group={group}", "-o", "name", check=False)
            return listed.returncode == 0 and f"{plural}.{group}" in listed.stdout.split()

        wait_for(f"{plural}.{group} in the API server's discovery", discovered, timeout=timeout)

    def condition(self, kind: str, name: str, namespace: str, ctype: str) -> dict[str, Any] | None:
        for cond in self.status(kind, name, namespace).get("conditions") or []:
            if cond.get("type") == ctype:
                return dict(cond)
        return None

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            e for e in self.items("events", namespace) if not name or e.get("involvedObject", {}).get("name") == name
        ]
