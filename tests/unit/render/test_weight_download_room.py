"""The download program checks for room before it fetches a byte: weights larger than the claim's requested size
or the volume's free space exit with VolumeFull and one line naming spec.model.cache.size; a volume that fills
while writing (ENOSPC, also inside shutil.copytree's gathered error) is VolumeFull too. Run for real on pvc://
(a directory) and s3:// (an S3-shaped listing on loopback) sources."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.weight_cache import WeightCache
from inference_operator.render.weight_cache import render_download_job, render_weight_cache
from inference_operator.render.weight_download import DOWNLOAD_PY, EXIT_REASONS, MARKER
from tests.support.samples import sample_body

VOLUME_FULL = next(code for code, (reason, _) in EXIT_REASONS.items() if reason == "VolumeFull")
WEIGHTS = b"w" * 2000
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
# Makes every file copy or S3 body write fail as a full volume would (loaded by the program's interpreter).
ENOSPC_SITE = """
import errno, os, shutil

def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

shutil.copyfile = full
shutil.copyfileobj = full
"""


def run(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "cache").mkdir(exist_ok=True)
    code = DOWNLOAD_PY.replace('"/cache"', repr(str(tmp_path / "cache"))).replace(
        '"/source"', repr(str(tmp_path / "source"))
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WC_"))}
    run_env = base | {"WC_SOURCE": source, "WC_MODEL": "m", "WC_REVISION": "main"} | env
    return subprocess.run(
        [sys.executable, "-c", code], check=False, env=run_env, capture_output=True, text=True, timeout=60
    )


def weights_dir(tmp_path: Path) -> str:
    (tmp_path / "source" / "m").mkdir(parents=True)
    (tmp_path / "source" / "m" / "model.safetensors").write_bytes(WEIGHTS)
    return "pvc://claim/m"


def nothing_fetched(tmp_path: Path) -> bool:
    cache = tmp_path / "cache"
    partial = list((cache / ".partial").rglob("*")) if (cache / ".partial").exists() else []
    return not (cache / MARKER).exists() and not (cache / "model").exists() and partial == []


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_weights_larger_than_the_claims_size_fail_before_the_download(tmp_path: Path) -> None:
    done = run(tmp_path, weights_dir(tmp_path), WC_CLAIM_SIZE="1Ki", WC_CLAIM_BYTES="1024")
    assert done.returncode == VOLUME_FULL, done.stderr
    line = one_line(done.stderr)
    assert "spec.model.cache.size" in line and "1Ki" in line and "2000 bytes" in line, line
    assert nothing_fetched(tmp_path)


def test_weights_within_the_claims_size_are_fetched(tmp_path: Path) -> None:
    done = run(tmp_path, weights_dir(tmp_path), WC_CLAIM_SIZE="4Ki", WC_CLAIM_BYTES="4096")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cache" / "model" / "model.safetensors").read_bytes() == WEIGHTS


class HugeListing(BaseHTTPRequestHandler):
    """A bucket listing one object far larger than any disk; a GET of it is recorded (and must not happen)."""

    gets: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if "list-type=2" in self.path:
            body = (
                f'<ListBucketResult xmlns="{S3_NS}"><IsTruncated>false</IsTruncated>'
                f"<Contents><Key>llm/model.safetensors</Key><Size>{10**18}</Size></Contents></ListBucketResult>"
            ).encode()
        else:
            HugeListing.gets.append(self.path)
            body = b"x"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def huge_store() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HugeListing)
    HugeListing.gets = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_weights_larger_than_the_volumes_free_space_fail_before_the_download(tmp_path: Path, huge_store: str) -> None:
    done = run(tmp_path, "s3://bucket/llm", WC_S3_ENDPOINT=huge_store)  # no claim size: the free space decides
    assert done.returncode == VOLUME_FULL, done.stderr
    line = one_line(done.stderr)
    assert "free" in line and "spec.model.cache.size" in line, line
    assert HugeListing.gets == []
    assert nothing_fetched(tmp_path)


def test_a_volume_that_fills_while_writing_is_volume_full(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(ENOSPC_SITE)
    done = run(tmp_path, weights_dir(tmp_path), PYTHONPATH=str(site))  # copytree gathers it into shutil.Error
    assert done.returncode == VOLUME_FULL, done.stderr
    assert "spec.model.cache.size" in one_line(done.stderr)
    assert not (tmp_path / "cache" / MARKER).exists()


def test_the_job_passes_the_claims_requested_size() -> None:
    body = sample_body("cpu-small")
    body["spec"]["model"]["cache"] = {"enabled": True, "size": "3Gi"}
    manifest = render_weight_cache(InferenceDeployment.model_validate(body))
    manifest["metadata"]["uid"] = "uid-entry"
    job = render_download_job(WeightCache.model_validate(manifest), None)
    env = {v["name"]: v.get("value") for v in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["WC_CLAIM_SIZE"], env["WC_CLAIM_BYTES"]) == ("3Gi", str(3 * 2**30))
