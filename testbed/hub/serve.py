"""Runs olah, the Hub mirror, unchanged, with an access log of the test bed's own around it.

olah parses its own command line (`olah.server.init()`, the code behind `olah-cli`); the only addition is an
ASGI wrapper that appends one JSON line per HTTP request to $HUB_ACCESS_LOG: method, path, status and the
bytes of body sent. Tests read it to count what the mirror served (tests/support/engine.py: hub_access_log).
Run with olah's venv: python serve.py --config FILE --log-path DIR
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from olah import server as olah_server

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccessLog:
    """ASGI middleware: one JSON line per request, written when its response is finished."""

    def __init__(self, app: App, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        sent = 0
        started = time.time()

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            line = {
                "time": round(started, 3),
                "method": scope["method"],
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"),
                "status": status,
                "bytes": sent,
            }
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(json.dumps(line) + "\n")


def main() -> None:
    args = olah_server.init()
    app = AccessLog(olah_server.app, os.environ["HUB_ACCESS_LOG"])
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
