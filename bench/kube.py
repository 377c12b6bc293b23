"""The bench's own bare async client: aiohttp over the kubeconfig's admin certificate, nothing in between.

The floor's writes and the bench's creates, watches and /metrics scrapes all go through it, so what the
floor measures is the API server's time plus one HTTP round trip, not a client library's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yaml

from inference_operator import FIELD_MANAGER

from .apimetrics import RequestKey

# Metadata only: the bench needs to know a child exists, not to parse its whole body.
PARTIAL_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
PARTIAL_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class ApiError(Exception):
    def __init__(self, status: int, method: str, path: str, text: str) -> None:
        super().__init__(f"{method} {path}: {status} {text[:300]}")
        self.status = status


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is and who the bench is to it."""

    server: str
    ssl: ssl.SSLContext


def load_endpoint(kubeconfig: Path) -> Endpoint:
    """The current context's server and client certificate (the test bed's admin, system:masters)."""
    config = yaml.safe_load(kubeconfig.read_text())
    context_name = config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    # ssl loads a client certificate only from files: they live for the duration of this call.
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(str(cert), str(key))
    return Endpoint(server=str(cluster["server"]).rstrip("/"), ssl=ctx)


def request_key(method: str, path: str, content_type: str = "", watch: bool = False) -> RequestKey:
    """How kube-apiserver's request counter files one of our requests (verb, group, resource, subresource)."""
    parts = path.strip("/").split("/")
    if parts[0] not in ("api", "apis") or len(parts) < 3:
        return RequestKey(method, "", "", "")  # /version and the like: not a resource request
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    group = "" if parts[0] == "api" else parts[1]
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource, name, sub = ([*rest, "", ""])[:3]
    if method == "GET":
        verb = "WATCH" if watch else ("GET" if name else "LIST")
    elif method == "PATCH" and content_type.startswith("application/apply-patch"):
        verb = "APPLY"
    else:
        verb = method
    return RequestKey(verb, group, resource, sub)


class Api:
    """A few verbs over one pooled HTTPS session; counts its own requests so the bench can subtract them."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.own: Counter[RequestKey] = Counter()
        # No pool limit here: callers bound their own concurrency, and watches hold connections for long.
        connector = aiohttp.TCPConnector(ssl=endpoint.ssl, limit=0)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))

    async def close(self) -> None:
        await self.session.close()

    def url(self, path: str, query: dict[str, str] | None = None) -> str:
        return self.endpoint.server + path + (("?" + urlencode(query)) if query else "")

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.own[request_key(method, path, content_type)] += 1
        data = None if body is None else json.dumps(body)
        headers = {"Accept": "application/json", "Content-Type": content_type}
        timeout = aiohttp.ClientTimeout(total=60)
        async with self.session.request(
            method, self.url(path, query), data=data, headers=headers, timeout=timeout
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise ApiError(response.status, method, path, text)
            result: dict[str, Any] = json.loads(text) if text else {}
            return result

    async def apply(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply with the operator's own field manager, as kube/client.py does."""
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        return await self.request("PATCH", path, obj, "application/apply-patch+yaml", query)

    async def text(self, path: str) -> str:
        """A non-resource path such as /metrics (the request counter does not count those)."""
        async with self.session.get(self.url(path), timeout=aiohttp.ClientTimeout(total=60)) as response:
            body = await response.text()
            if response.status >= 400:
                raise ApiError(response.status, "GET", path, body)
            return body

    async def watch(self, path: str, metadata_only: bool = False) -> AsyncIterator[dict[str, Any]]:
        """Every event of a collection from now on (list first, then watch from its resourceVersion; reconnects)."""
        accept = PARTIAL_METADATA if metadata_only else "application/json"
        listing = await self._get_json(path, PARTIAL_METADATA_LIST if metadata_only else accept, {})
        for item in listing.get("items") or []:
            yield {"type": "ADDED", "object": item}
        yield {"type": "LISTED", "object": {}}  # from here on nothing is missed: the watch starts at the list
        version = str(listing["metadata"]["resourceVersion"])
        while True:
            self.own[request_key("GET", path, watch=True)] += 1
            query = {"watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": "300"}
            async with self.session.get(
                self.url(path, query), headers={"Accept": accept}, timeout=aiohttp.ClientTimeout(sock_read=330)
            ) as response:
                if response.status >= 400:
                    raise ApiError(response.status, "WATCH", path, await response.text())
                async for line in response.content:
                    if not line.strip():
                        continue
                    event: dict[str, Any] = json.loads(line)
                    version = str(event["object"].get("metadata", {}).get("resourceVersion") or version)
                    if event["type"] == "ERROR":
                        raise ApiError(int(event["object"].get("code", 0)), "WATCH", path, str(event["object"]))
                    if event["type"] != "BOOKMARK":
                        yield event

    async def _get_json(self, path: str, accept: str, query: dict[str, str]) -> dict[str, Any]:
        self.own[request_key("GET", path)] += 1
        async with self.session.get(self.url(path, query), headers={"Accept": accept}) as response:
            text = await response.text()
            if response.status >= 400:
                raise ApiError(response.status, "GET", path, text)
            result: dict[str, Any] = json.loads(text)
            return result


async def bounded(limit: int, jobs: list[Any]) -> list[Any]:
    """Run coroutines with at most `limit` in flight; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))
