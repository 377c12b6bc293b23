"""The test bed's S3 store (testbed/s3, SeaweedFS): its endpoint as pods reach it, uploads with curl's own AWS
Signature V4 (an implementation independent of the download Job's), and its request counter from weed's metrics."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from . import testbed

ACCESS_KEY = "testbed"  # testbed/s3/procs.sh
SECRET_KEY = "testbed-secret"
METRICS_OFFSET = 4  # S3_METRICS_PORT = S3_PORT + 4


def endpoint() -> str:
    path = testbed.state_dir() / "s3" / "endpoint"
    if not path.is_file():
        raise RuntimeError(f"the test bed's S3 store is not running ({path} missing): `make engine`, `make testbed-up`")
    return path.read_text().strip()


def ensure_running() -> str:
    """The store's endpoint, started first if it does not run: up.sh starts it too, but not fatally, so a store
    that did not start then, or stopped since, fails here with start.sh's own words rather than a missing file."""
    testbed.start_s3()
    return endpoint()


def _curl(*args: str, fail: bool = True) -> None:
    cmd = [
        "curl",
        "-sf" if fail else "-s",
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        f"{ACCESS_KEY}:{SECRET_KEY}",
        *args,
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def upload_dir(bucket: str, prefix: str, directory: Path) -> int:
    """Create the bucket and put every file of `directory` under `prefix`; returns how many files."""
    base = endpoint()
    _curl("-X", "PUT", f"{base}/{bucket}", fail=False)  # 409 when it exists already: fine
    files = [f for f in sorted(directory.rglob("*")) if f.is_file()]
    for f in files:
        _curl("-T", str(f), f"{base}/{bucket}/{prefix}/{f.relative_to(directory).as_posix()}")
    return len(files)


def get_requests(bucket: str) -> int:
    """GET requests the store answered for objects of `bucket` (weed's SeaweedFS_s3_request_total)."""
    parts = urlsplit(endpoint())
    url = f"http://{parts.hostname}:{int(parts.port or 0) + METRICS_OFFSET}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("SeaweedFS_s3_request_total{") and f'bucket="{bucket}"' in line and 'type="GET"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total
