"""The creator both halves of a round share: N InferenceDeployments, POSTed with bounded concurrency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .kube import Api
from .tracker import Progress
from .workload import infd_path, inference_deployment


async def create_fleet(
    api: Api,
    namespace: str,
    names: list[str],
    concurrency: int,
    progress: Progress,
    created: asyncio.Queue[dict[str, Any]] | None = None,
    path: str | None = None,
    make_body: Callable[[str], dict[str, Any]] = inference_deployment,
) -> None:
    """POST every resource (InferenceDeployments unless `path` and `make_body` say otherwise; at most `concurrency` in
    flight); each created body goes to `created` if given."""
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str) -> None:
        async with gate:
            progress.created[name] = time.monotonic()
            body = await api.request("POST", path or infd_path(namespace), make_body(name))
        if created is not None:
            await created.put(body)

    await asyncio.gather(*(one(n) for n in names))
