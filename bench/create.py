"""The creator both halves of a round share: N InferenceDeployments, POSTed with bounded concurrency."""

from __future__ import annotations

import asyncio
import time
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
) -> None:
    """POST every resource (at most `concurrency` in flight); each created body goes to `created` if given."""
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str) -> None:
        async with gate:
            progress.created[name] = time.monotonic()
            body = await api.request("POST", infd_path(namespace), inference_deployment(name))
        if created is not None:
            await created.put(body)

    await asyncio.gather(*(one(n) for n in names))
