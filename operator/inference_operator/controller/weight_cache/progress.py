"""Reading a download pod's progress (bytes done / total) over HTTP: the pod has no API credentials to write a
status, so it answers GET /progress (render/weight_download.py) and the operator reads it on a requeue."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ...render.weight_download import PROGRESS_PATH, PROGRESS_PORT

# How often a downloading entry is requeued to read its progress (runtime/handlers.py).
PROGRESS_REQUEUE_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 3.0


def progress_url(pods: list[dict[str, Any]]) -> str | None:
    """The progress endpoint of the running download pod, if one has an address."""
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") == "Running" and status.get("podIP"):
            return f"http://{status['podIP']}:{PROGRESS_PORT}{PROGRESS_PATH}"
    return None


def read_progress(url: str) -> dict[str, Any] | None:
    """{bytesDone, bytesTotal, commit, complete} as the pod says, or None when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=READ_TIMEOUT_SECONDS) as response:
            data = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("bytesDone", "bytesTotal"):
        if isinstance(data.get(key), int) and data[key] >= 0:
            out[key] = data[key]
    if isinstance(data.get("commit"), str):
        out["commit"] = data["commit"]
    return out
