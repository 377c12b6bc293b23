"""The program of a weight-cache download Job, as text the Job runs with `python3 -c`. Pure constants.

It needs only python3 and, for Hub sources, huggingface_hub (both in the vLLM images): the S3 client is the
standard library with AWS Signature Version 4 (the algorithm of the AWS docs, "Signature Version 4 signing
process"), path-style requests, so any S3-compatible store works without a client installed in the image.
Steps: fetch into <cache>/.partial, move it to <cache>/model, write COMPLETE (JSON: commit, bytes) last by an
atomic rename; an entry with COMPLETE is never fetched again. Failures exit with a code the operator turns into a
condition (EXIT_REASONS); the Job's podFailurePolicy fails at once on them (time does not fix them).

Room: once it knows the total, before fetching a byte, weights larger than the claim's requested size
(WC_CLAIM_BYTES, from the entry's spec.size) or the volume's free space (statvfs) exit with VolumeFull and a
line naming spec.model.cache.size; a volume that fills while writing (ENOSPC) is VolumeFull too.

Progress: the pod has no API credentials (automountServiceAccountToken: false), so it cannot write a status.
It learns the total first (the Hub's file sizes, S3's ListObjectsV2 sizes, the source directory's sizes) and
answers GET /progress on PROGRESS_PORT with JSON {bytesDone, bytesTotal, commit, complete}: bytes on disk under
.partial, counted at each request. The operator reads it on a requeue while the entry downloads (controller/
weight_cache/progress.py); once complete the program waits up to PROGRESS_LINGER_SECONDS for one more read, so
the final count and commit reach the status even for a download shorter than the requeue interval.
"""

from __future__ import annotations

CACHE_DIR = "/cache"
SOURCE_DIR = "/source"
MODEL_SUBDIR = "model"
MARKER = "COMPLETE"
PROGRESS_PORT = 8321
PROGRESS_PATH = "/progress"
# A little over the operator's progress requeue interval (controller/weight_cache/progress.py).
PROGRESS_LINGER_SECONDS = 15

# exit code -> (reason, what it means), for the entry's status and the resource's condition.
EXIT_REASONS: dict[int, tuple[str, str]] = {
    10: ("RevisionNotFound", "the source has no such revision"),
    11: ("ModelNotFound", "the source has no such model, or no files under the prefix"),
    12: ("SourceUnreadable", "the source refused the read (a bucket or gated model without access)"),
    13: ("VolumeFull", "the weights do not fit the cache volume; raise spec.model.cache.size"),
}

DOWNLOAD_PY = (
    r"""
import datetime, errno, hashlib, hmac, json, os, shutil, sys, threading, time, urllib.parse, urllib.request
import urllib.error
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CACHE, SOURCE, MODEL, MARKER = "@CACHE@", "@SOURCE@", "@MODEL@", "@MARKER@"
src, model, revision = os.environ["WC_SOURCE"], os.environ["WC_MODEL"], os.environ["WC_REVISION"]
PARTIAL = os.path.join(CACHE, ".partial")
state = {"bytesDone": 0, "bytesTotal": None, "commit": None, "complete": False, "reads": 0}


def tree_bytes(top):
    total = 0
    for d, _, fs in os.walk(top):
        for f in fs:
            try:
                total += os.path.getsize(os.path.join(d, f))
            except OSError:
                pass  # moved or removed between the listing and the stat
    return total


def progress():
    out = {k: state[k] for k in ("bytesDone", "bytesTotal", "commit", "complete")}
    if not state["complete"] and os.path.isdir(PARTIAL):
        done = tree_bytes(PARTIAL)
        out["bytesDone"] = min(done, state["bytesTotal"]) if state["bytesTotal"] else done
    return out


class Progress(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "@PROGRESS_PATH@":
            self.send_error(404)
            return
        body = json.dumps(progress()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        state["reads"] += 1

    def log_message(self, *args):
        pass


def serve_progress():
    port = os.environ.get("WC_PROGRESS_PORT")
    if not port:
        return None
    server = ThreadingHTTPServer(("", int(port)), Progress)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def megabytes(n):
    return f"{n / 1e6:.1f} MB ({n} bytes)"


def room_for(total):
    # Before the first byte: weights larger than the claim's request or the volume's free space fail now, with
    # the field to raise, not after filling the disk. (A host-directory volume has the host's free space.)
    if not total:
        return
    size, limit = os.environ.get("WC_CLAIM_SIZE"), os.environ.get("WC_CLAIM_BYTES")
    if limit and total > int(limit):
        fail(13, f"the weights are {megabytes(total)}, more than the {size} ({megabytes(int(limit))}) the cache "
                 "claim requests: raise spec.model.cache.size")
    fs = os.statvfs(CACHE)
    free = fs.f_bavail * fs.f_frsize
    if total > free:
        fail(13, f"the weights are {megabytes(total)} and the cache volume has {megabytes(free)} free: raise "
                 "spec.model.cache.size (or free the volume)")


def learned(total, commit=None):
    state["bytesTotal"], state["commit"] = total, commit
    print(json.dumps({"bytesTotal": total, "commit": commit}), flush=True)
    room_for(total)


def no_space(exc):
    # shutil.copytree gathers its files' errors into one shutil.Error, whose errno is None: read its text too.
    return exc.errno == errno.ENOSPC or os.strerror(errno.ENOSPC) in str(exc)


def linger(server):
    # Keep answering until the operator has read the final count once (or the linger time is up).
    if server is None:
        return
    reads, deadline = state["reads"], time.monotonic() + float(os.environ.get("WC_PROGRESS_LINGER", "0"))
    while state["reads"] == reads and time.monotonic() < deadline:
        time.sleep(0.2)


def fail(code, message):
    print("download failed: " + message, file=sys.stderr, flush=True)
    sys.exit(code)


def sign(method, url, key, secret, region="us-east-1"):
    parts = urllib.parse.urlsplit(url)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    query = "&".join(sorted(
        urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))
    headers = {"host": parts.netloc, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, urllib.parse.quote(parts.path or "/", safe="/-_.~"), query,
                           "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, "UNSIGNED-PAYLOAD"])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def s3_get(url):
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    headers = sign("GET", url, key, secret) if key and secret else {}
    headers.pop("host", None)
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)


def from_s3(dest):
    endpoint = os.environ.get("WC_S3_ENDPOINT", "").rstrip("/")
    bucket, _, prefix = src[len("s3://"):].partition("/")
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    keys, token = [], None
    while True:
        query = {"list-type": "2", "prefix": prefix} | ({"continuation-token": token} if token else {})
        try:
            with s3_get(f"{endpoint}/{bucket}?{urllib.parse.urlencode(query)}") as r:
                root = ET.fromstring(r.read())
        except urllib.error.HTTPError as exc:
            fail(12, f"listing s3://{bucket}/{prefix} at {endpoint} answered HTTP {exc.code}")
        except urllib.error.URLError as exc:
            fail(12, f"cannot reach the S3 endpoint {endpoint}: {exc.reason}")
        for c in root.iter(ns + "Contents"):
            keys.append((c.find(ns + "Key").text, int(c.find(ns + "Size").text)))
        token_el = root.find(ns + "NextContinuationToken")
        if root.findtext(ns + "IsTruncated") != "true" or token_el is None:
            break
        token = token_el.text
    keys = [(k, s) for k, s in keys if not k.endswith("/")]
    if not keys:
        fail(11, f"s3://{bucket}/{prefix} holds no objects")
    total = sum(s for _, s in keys)
    learned(total)
    done = 0
    for k, size in keys:
        path = os.path.join(dest, k[len(prefix):])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with s3_get(f"{endpoint}/{bucket}/{urllib.parse.quote(k)}") as r, open(path, "wb") as f:
                shutil.copyfileobj(r, f, 1 << 20)
        except urllib.error.HTTPError as exc:
            fail(12, f"reading s3://{bucket}/{k} answered HTTP {exc.code}")
        done += size
        print(json.dumps({"bytesDone": done, "bytesTotal": total}), flush=True)
    return None, total


def hub_total(info):
    # The Hub's file sizes, else (a mirror that lists names only, e.g. olah 0.5.4) a HEAD per file, whose
    # Content-Length is the file's size (huggingface_hub's get_hf_file_metadata).
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    total = 0
    for s in info.siblings or []:
        size = s.size
        if size is None:
            url = hf_hub_url(model, s.rfilename, revision=info.sha or revision)
            size = get_hf_file_metadata(url, token=os.environ.get("HF_TOKEN")).size
        total += size or 0
    return total or None


def from_hub(dest):
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError
    try:
        info = HfApi().model_info(model, revision=revision, files_metadata=True)
        total = hub_total(info)
        learned(total, info.sha)
        snapshot_download(model, revision=info.sha or revision, local_dir=dest)
    except RevisionNotFoundError:
        fail(10, f"{model} has no revision {revision}")
    except GatedRepoError:
        fail(12, f"{model} is gated: spec.model.credentials must name a token with access")
    except RepositoryNotFoundError:
        fail(11, f"{model} was not found (or is private and the token has no access)")
    shutil.rmtree(os.path.join(dest, ".cache"), ignore_errors=True)
    return info.sha, total


def from_pvc(dest):
    path = src[len("pvc://"):].partition("/")[2].strip("/")
    here = os.path.join(SOURCE, path)
    if not os.path.isdir(here):
        fail(11, f"{src}: no directory {path or '/'} in the claim")
    learned(tree_bytes(here))
    shutil.copytree(here, dest, dirs_exist_ok=True)
    return None, sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dest) for f in fs)


def main():
    if os.path.exists(os.path.join(CACHE, MARKER)):
        print("entry already complete: nothing to fetch", flush=True)
        return
    partial = PARTIAL
    server = serve_progress()
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    fetch = {"s3": from_s3, "hf": from_hub, "pvc": from_pvc}[src.partition("://")[0]]
    try:
        commit, total = fetch(partial)
        final = os.path.join(CACHE, MODEL)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(partial, final)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(final) for f in fs)
        with open(os.path.join(CACHE, MARKER + ".tmp"), "w") as f:
            json.dump({"source": src, "model": model, "revision": revision, "commit": commit, "bytes": size}, f)
        os.rename(os.path.join(CACHE, MARKER + ".tmp"), os.path.join(CACHE, MARKER))
    except OSError as exc:
        if no_space(exc):
            fail(13, "no space left on the cache volume while writing the weights: raise spec.model.cache.size")
        raise
    state.update(bytesDone=size, bytesTotal=state["bytesTotal"] or size, commit=commit, complete=True)
    print(json.dumps({"complete": True, "bytes": size, "commit": commit}), flush=True)
    linger(server)


main()
""".replace("@CACHE@", CACHE_DIR)
    .replace("@SOURCE@", SOURCE_DIR)
    .replace("@MODEL@", MODEL_SUBDIR)
    .replace("@MARKER@", MARKER)
    .replace("@PROGRESS_PATH@", PROGRESS_PATH)
)
