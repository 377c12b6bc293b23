"""The download program's S3 path against a small S3-shaped server on loopback (ListObjectsV2 with paging, GET of
objects): the prefix is stripped, every page is fetched, requests are signed when keys are given, and a refused
listing exits with SourceUnreadable. A protocol check of our client only, not of a real store's signature check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from inference_operator.render.weight_download import DOWNLOAD_PY, EXIT_REASONS, MARKER

OBJECTS = {"llm/config.json": b'{"x": 1}', "llm/sub/model.safetensors": b"\x00" * 300, "other/skip": b"no"}
NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class Store(BaseHTTPRequestHandler):
    refuse = False
    seen: ClassVar[list[tuple[str, str]]] = []  # (path+query, authorization)

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Store.seen.append((self.path, self.headers.get("Authorization", "")))
        url = urlsplit(self.path)
        if Store.refuse:
            self.send_response(403)
            self.end_headers()
            return
        query = parse_qs(url.query)
        if url.path == "/bucket" and query.get("list-type") == ["2"]:
            keys = sorted(k for k in OBJECTS if k.startswith(query.get("prefix", [""])[0]))
            page = 0 if "continuation-token" not in query else int(query["continuation-token"][0])
            chunk, more = keys[page : page + 1], page + 1 < len(keys)
            body = f'<ListBucketResult xmlns="{NS}"><IsTruncated>{"true" if more else "false"}</IsTruncated>'
            body += "".join(f"<Contents><Key>{k}</Key><Size>{len(OBJECTS[k])}</Size></Contents>" for k in chunk)
            body += f"<NextContinuationToken>{page + 1}</NextContinuationToken>" if more else ""
            data = (body + "</ListBucketResult>").encode()
        else:
            data = OBJECTS[url.path.removeprefix("/bucket/")]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def store() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
    Store.seen, Store.refuse = [], False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def download(tmp_path: Path, endpoint: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "cache").mkdir(exist_ok=True)
    code = DOWNLOAD_PY.replace('"/cache"', repr(str(tmp_path / "cache")))
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run_env = base | {"WC_SOURCE": "s3://bucket/llm", "WC_MODEL": "m", "WC_REVISION": "main"}
    run_env |= {"WC_S3_ENDPOINT": endpoint} | env
    return subprocess.run(
        [sys.executable, "-c", code], check=False, env=run_env, capture_output=True, text=True, timeout=60
    )


def test_every_page_is_fetched_under_the_prefix_and_published(tmp_path: Path, store: str) -> None:
    done = download(tmp_path, store)
    assert done.returncode == 0, done.stderr
    model = tmp_path / "cache" / "model"
    assert (model / "config.json").read_bytes() == b'{"x": 1}'
    assert (model / "sub" / "model.safetensors").stat().st_size == 300
    assert not (model / "skip").exists()
    assert json.loads((tmp_path / "cache" / MARKER).read_text())["bytes"] == 308
    assert all(auth == "" for _, auth in Store.seen)  # no keys: anonymous


def test_requests_are_signed_with_the_keys(tmp_path: Path, store: str) -> None:
    done = download(tmp_path, store, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="secret")
    assert done.returncode == 0, done.stderr
    for _, auth in Store.seen:
        assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKID/")
        assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date" in auth


def test_a_refused_listing_is_source_unreadable(tmp_path: Path, store: str) -> None:
    Store.refuse = True
    done = download(tmp_path, store)
    assert EXIT_REASONS[done.returncode][0] == "SourceUnreadable"
    assert "HTTP 403" in done.stderr
    assert not (tmp_path / "cache" / MARKER).exists()
