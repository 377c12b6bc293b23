"""STAND-IN OpenAI-compatible server of the test bed: NOT an inference engine.

It answers /health (503 until --ready-delay seconds have passed, then 200), /v1/models,
/v1/completions, /v1/chat/completions (a fixed made-up text) and /metrics (its own counters, named
standin_openai_*, never an engine's metric names). The node agent's image table maps the TensorRT-LLM image to
it (through standin-bin/trtllm-serve), because TensorRT-LLM cannot run without an NVIDIA GPU. It exists for one
purpose: the cut-over test, which proves that traffic always has a ready endpoint while a resource moves from
vLLM to TensorRT-LLM and back. It shows nothing about TensorRT-LLM itself. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TAG = "STAND-IN openai server"


def log(message: str) -> None:
    print(f"{TAG}: {message}", file=sys.stderr, flush=True)


class State:
    def __init__(self, model: str, ready_delay: float) -> None:
        self.model = model
        self.ready_at = time.monotonic() + ready_delay
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def count(self, endpoint: str) -> None:
        with self.lock:
            self.counts[endpoint] = self.counts.get(endpoint, 0) + 1


def answer(path: str, request: dict[str, Any], model: str) -> tuple[int, dict[str, Any]]:
    """The status and body for a POST: a fixed made-up text, whatever the prompt."""
    if request.get("model") not in (None, model):
        return 404, {"error": f"{TAG}: model {request.get('model')!r} is not served; {model!r} is"}
    text = "stand-in reply"
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    base = {"id": f"standin-{time.time_ns()}", "created": int(time.time()), "model": model, "usage": usage}
    if path == "/v1/completions":
        choice = {"index": 0, "text": text, "finish_reason": "length"}
        return 200, {**base, "object": "text_completion", "choices": [choice]}
    if path == "/v1/chat/completions":
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return 200, {**base, "object": "chat.completion", "choices": [choice]}
    return 404, {"error": f"{TAG}: no such path {path}"}


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log(f"{self.address_string()} {format % args}")

        def reply(self, code: int, body: Any, content_type: str = "application/json") -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def ready(self) -> bool:
            return time.monotonic() >= state.ready_at

        def do_GET(self) -> None:
            state.count(self.path)
            if self.path == "/health":
                self.reply(200 if self.ready() else 503, {"stand_in": True, "ready": self.ready()})
            elif self.path == "/v1/models":
                self.reply(
                    200, {"object": "list", "data": [{"id": state.model, "object": "model", "owned_by": "stand-in"}]}
                )
            elif self.path == "/metrics":
                lines = [
                    "# HELP standin_openai_requests_total Requests the stand-in answered, by path.",
                    "# TYPE standin_openai_requests_total counter",
                ]
                with state.lock:
                    lines += [
                        f'standin_openai_requests_total{{path="{p}"}} {n}' for p, n in sorted(state.counts.items())
                    ]
                self.reply(200, "\n".join(lines) + "\n", "text/plain; version=0.0.4")
            else:
                self.reply(404, {"error": f"{TAG}: no such path {self.path}"})

        def do_POST(self) -> None:
            state.count(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self.reply(400, {"error": f"{TAG}: the body is not JSON"})
                return
            if not self.ready():
                self.reply(503, {"error": f"{TAG}: not ready yet"})
                return
            self.reply(*answer(self.path, request, state.model))

    return Handler


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="standin_openai", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name", default="stand-in")
    parser.add_argument("--ready-delay", type=float, default=0.0, help="seconds before /health says 200")
    parser.add_argument(
        "--trtllm-serve-args",
        action="store_true",
        help="the rest are trtllm-serve's (serve MODEL --host H --port P ...): take host, port and the model from them",
    )
    known, rest = parser.parse_known_args(argv)
    if known.trtllm_serve_args:
        positional = [a for a in rest if not a.startswith("-")]
        if len(positional) >= 2 and positional[0] == "serve":
            known.served_model_name = positional[1]
        for flag, attr, kind in (("--host", "host", str), ("--port", "port", int)):
            if flag in rest and rest.index(flag) + 1 < len(rest):
                setattr(known, attr, kind(rest[rest.index(flag) + 1]))
        log(f"ignoring trtllm-serve arguments it cannot act on: {rest}")
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return known


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    state = State(args.served_model_name, args.ready_delay)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    log(f"serving {args.served_model_name!r} on {args.host}:{args.port}; /health 200 after {args.ready_delay:.1f}s")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
