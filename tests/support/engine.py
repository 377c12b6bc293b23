"""Test helpers for the real-engine parts of the test bed: paths, vLLM's argument contract, the Hub mirror's
access log and Prometheus's HTTP API.

(A module of its own while tests/ helpers are being reorganised; it belongs in tests/support/engine.py.)
Paths come from testbed/engine/paths.sh, so the scripts and the tests never disagree.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTBED = REPO_ROOT / "testbed"


@cache
def engine_paths() -> dict[str, str]:
    """KEY=VALUE from testbed/engine/paths.sh (ENGINE_PYTHON, VLLM, MODEL_DIR, MODEL_REVISION, HUB_PORT, ...)."""
    out = subprocess.run(
        ["bash", str(TESTBED / "engine" / "paths.sh")], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def engine_python() -> Path:
    """The engine venv's python; fails (never skips) with the command that installs it."""
    python = Path(engine_paths()["ENGINE_PYTHON"])
    complete = Path(engine_paths()["ENGINE_VENV"]) / ".complete"
    assert complete.is_file() and python.is_file(), f"vLLM's CPU build is not installed ({python}): run make engine"
    return python


def modelopt_python() -> Path:
    """The python with nvidia-modelopt (testbed/engine/modelopt.sh); fails (never skips) with what installs it."""
    python = Path(engine_paths()["MODELOPT_PYTHON"])
    complete = python.parents[1] / ".complete"
    assert complete.is_file() and python.exists(), f"nvidia-modelopt is not installed ({python}): run make engine"
    return python


# --- vLLM's argument contract ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArgvVerdict:
    returncode: int
    bad: dict[str, str]  # name -> vLLM's complaint
    summary: str


def check_vllm_args(items: Sequence[tuple[str, Sequence[str]]]) -> ArgvVerdict:
    """Parses each (name, argv after `vllm serve`) with the installed vLLM's parser (testbed/engine/check_args.py)."""
    payload = [{"name": name, "args": list(argv)} for name, argv in items]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(payload, f)
    try:
        proc = subprocess.run(
            [str(engine_python()), str(TESTBED / "engine" / "check_args.py"), f.name],
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "VLLM_LOGGING_LEVEL": "ERROR"},
        )
    finally:
        os.unlink(f.name)
    assert proc.returncode in (0, 1), f"check_args.py failed ({proc.returncode}): {proc.stderr[-2000:]}"
    bad = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    summary = next((ln for ln in proc.stderr.splitlines() if ln.startswith("check_args:")), proc.stderr[-500:])
    return ArgvVerdict(proc.returncode, bad, summary)


# --- the Hub mirror -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubTraffic:
    requests: int
    bytes: int
    files: dict[str, int]  # path of each file GET (…/resolve/<rev>/<file>) -> bytes sent


def hub_access_log(path: Path | None = None) -> list[dict[str, Any]]:
    """The mirror's access log (testbed/hub/serve.py): one dict per request, oldest first."""
    log = path or Path(engine_paths()["HUB_ACCESS_LOG"])
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def hub_traffic(since: int = 0, path: Path | None = None, repo: str | None = None) -> HubTraffic:
    """Requests and body bytes the mirror served after the first `since` log lines (take len(hub_access_log())
    before the action to measure); with `repo`, only the requests for that repo id (its files and its API)."""
    entries = hub_access_log(path)[since:]
    if repo is not None:
        entries = [e for e in entries if f"/{repo}/" in e["path"] or e["path"].endswith(f"/{repo}")]
    files: dict[str, int] = {}
    for entry in entries:
        if entry["method"] == "GET" and "/resolve/" in entry["path"] and entry["status"] == 200:
            files[entry["path"]] = files.get(entry["path"], 0) + int(entry["bytes"])
    return HubTraffic(len(entries), sum(int(e["bytes"]) for e in entries), files)


# --- Prometheus ---------------------------------------------------------------------------------------------


class PrometheusAPI:
    """Prometheus's HTTP API (the one testbed/prometheus/start.sh runs), read-only."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    @classmethod
    def of_testbed(cls, state_dir: Path | None = None) -> PrometheusAPI:
        state = state_dir or Path(engine_paths()["STATE_DIR"])
        endpoint = state / "prometheus" / "endpoint"
        assert endpoint.is_file(), f"{endpoint} is missing: testbed/prometheus/start.sh has not run"
        return cls(endpoint.read_text().strip())

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body.get("status") == "success", f"{path}: {body}"
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar as one sample) of a query; raises on a query Prometheus refuses."""
        data = self._get("/api/v1/query", query=promql)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def active_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self._get("/api/v1/targets", state="active")["activeTargets"]
        return targets

    def dropped_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self._get("/api/v1/targets", state="dropped")["droppedTargets"]
        return targets

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its health and last error."""
        groups = self._get("/api/v1/rules")["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
        """Polls `check` until it returns something truthy; fails with `what` at the deadline."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
            except OSError as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
