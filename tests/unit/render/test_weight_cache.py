"""The weight cache entry, its PVC and download Job, and vLLM serving from it (render/weight_cache.py), plus the
download program run for real on a pvc:// source (a directory) and its refusal codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from inference_operator.api.inference_deployment import InferenceDeployment
from inference_operator.api.settings import SettingsError, from_env
from inference_operator.api.weight_cache import WeightCache, source_problem
from inference_operator.render.vllm import render_vllm_deployment
from inference_operator.render.weight_cache import (
    LABEL_WEIGHT_CACHE,
    entry_name,
    render_download_job,
    render_weight_cache,
    render_weight_claim,
)
from inference_operator.render.weight_download import DOWNLOAD_PY, EXIT_REASONS, MARKER
from tests.support.samples import sample_body


def infd(**cache: Any) -> InferenceDeployment:
    body = sample_body("cpu-small")
    body["spec"]["model"]["cache"] = {"enabled": True, **cache}
    return InferenceDeployment.model_validate(body)


def entry(**cache: Any) -> WeightCache:
    manifest = render_weight_cache(infd(**cache))
    manifest["metadata"]["uid"] = "uid-entry"
    return WeightCache.model_validate(manifest)


def test_the_key_is_source_model_and_revision_and_nothing_else() -> None:
    a = render_weight_cache(infd())
    b = render_weight_cache(infd(storageClass="fast", size="9Gi"))
    assert a["metadata"]["name"] == b["metadata"]["name"]  # the first requester's settings fill one entry
    body = sample_body("cpu-small")
    body["spec"]["model"]["revision"] = "v2"
    body["spec"]["model"]["cache"] = {"enabled": True}
    other = render_weight_cache(InferenceDeployment.model_validate(body))
    assert other["metadata"]["name"] != a["metadata"]["name"]
    assert entry_name("s3://b/p", "m", "main") != entry_name("hf://m", "m", "main")
    assert a["spec"]["source"] == "hf://Qwen/Qwen2.5-0.5B-Instruct"
    assert "ownerReferences" not in a["metadata"]  # no resource owns an entry


def test_an_unknown_scheme_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="unknown scheme"):
        infd(source="ftp://host/model")
    problem = source_problem("gs://bucket")
    assert problem is not None and problem.startswith("spec.model.cache.source:")
    assert source_problem("s3:///prefix") is not None
    assert source_problem("s3://bucket/prefix") is None


def test_claim_and_job_belong_to_the_entry_and_the_job_fails_fast_on_causes_time_cannot_fix() -> None:
    e = entry(source="s3://weights/qwen", s3Endpoint="http://store:8333", s3Credentials="s3-keys", size="3Gi")
    claim = render_weight_claim(e)
    assert claim["spec"]["resources"]["requests"]["storage"] == "3Gi"
    assert claim["metadata"]["ownerReferences"][0]["kind"] == "WeightCache"
    job = render_download_job(e, "http://hub:1")
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["onExitCodes"]["values"] == sorted(EXIT_REASONS)
    env = {v["name"]: v for v in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WC_S3_ENDPOINT"]["value"] == "http://store:8333"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "s3-keys"
    assert "HF_ENDPOINT" not in env  # only Hub sources talk to the Hub
    assert job["spec"]["template"]["metadata"]["labels"][LABEL_WEIGHT_CACHE] == e.metadata["name"]


def test_a_hub_entry_passes_the_token_by_reference_and_the_mirror() -> None:
    body = sample_body("cpu-small")
    body["spec"]["model"]["cache"] = {"enabled": True}
    body["spec"]["model"]["credentials"] = {"name": "hf", "key": "token"}
    manifest = render_weight_cache(InferenceDeployment.model_validate(body))
    manifest["metadata"]["uid"] = "u"
    job = render_download_job(WeightCache.model_validate(manifest), "http://hub:1")
    env = {v["name"]: v for v in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf", "key": "token"}
    assert env["HF_ENDPOINT"]["value"] == "http://hub:1"
    assert job["metadata"]["namespace"] == body["metadata"]["namespace"]  # the token never leaves it


def test_vllm_serves_the_entry_read_only_and_offline() -> None:
    resource = infd()
    name = render_weight_cache(resource)["metadata"]["name"]
    d = render_vllm_deployment(resource, weights=name)
    pod = d["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][0] == "/weights/model" and "--revision" not in container["args"]
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in container["env"]
    volume = next(v for v in pod["volumes"] if v["name"] == "weight-cache")
    assert volume["persistentVolumeClaim"] == {"claimName": name, "readOnly": True}
    assert d["spec"]["template"]["metadata"]["labels"][LABEL_WEIGHT_CACHE] == name
    plain = render_vllm_deployment(resource)
    assert plain["spec"]["template"]["spec"]["containers"][0]["args"][0] == "Qwen/Qwen2.5-0.5B-Instruct"


def run_download(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    code = DOWNLOAD_PY.replace('"/cache"', repr(str(tmp_path / "cache"))).replace(
        '"/source"', repr(str(tmp_path / "source"))
    )
    env = {**os.environ, "WC_SOURCE": source, "WC_MODEL": "m", "WC_REVISION": "main"}
    return subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_download_program_publishes_atomically_and_never_fetches_twice(tmp_path: Path) -> None:
    (tmp_path / "source" / "models" / "m").mkdir(parents=True)
    (tmp_path / "source" / "models" / "m" / "config.json").write_text('{"a": 1}')
    (tmp_path / "cache").mkdir()
    first = run_download(tmp_path, "pvc://claim/models/m")
    assert first.returncode == 0, first.stderr
    marker = json.loads((tmp_path / "cache" / MARKER).read_text())
    assert marker["bytes"] == 8
    assert (tmp_path / "cache" / "model" / "config.json").read_text() == '{"a": 1}'
    assert not (tmp_path / "cache" / ".partial").exists()
    again = run_download(tmp_path, "pvc://claim/models/m")
    assert "already complete" in again.stdout


def test_a_missing_path_exits_with_its_reason_code(tmp_path: Path) -> None:
    (tmp_path / "source").mkdir()
    (tmp_path / "cache").mkdir()
    done = run_download(tmp_path, "pvc://claim/nothing-here")
    assert EXIT_REASONS[done.returncode][0] == "ModelNotFound"
    assert not (tmp_path / "cache" / MARKER).exists()


def test_the_budget_setting_is_a_quantity() -> None:
    assert from_env({"INFOP_WEIGHT_CACHE_BUDGET": "2Ti"}).weight_cache_budget == "2Ti"
    assert from_env({}).weight_cache_budget is None
    with pytest.raises(SettingsError, match="INFOP_WEIGHT_CACHE_BUDGET"):
        from_env({"INFOP_WEIGHT_CACHE_BUDGET": "lots"})


def test_the_download_program_answers_its_progress_and_lingers_for_one_read(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "source" / "m").mkdir(parents=True)
    (tmp_path / "source" / "m" / "w.bin").write_bytes(b"x" * 1000)
    (tmp_path / "cache").mkdir()
    code = DOWNLOAD_PY.replace('"/cache"', repr(str(tmp_path / "cache"))).replace(
        '"/source"', repr(str(tmp_path / "source"))
    )
    env = {**os.environ, "WC_SOURCE": "pvc://claim/m", "WC_MODEL": "m", "WC_REVISION": "main"}
    env |= {"WC_PROGRESS_PORT": str(port), "WC_PROGRESS_LINGER": "60"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/progress", timeout=2) as r:
                    answer = json.loads(r.read())
                if answer["complete"]:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        assert answer is not None and answer["complete"], answer
        assert (answer["bytesDone"], answer["bytesTotal"]) == (1000, 1000)
        assert proc.wait(timeout=30) == 0  # the final read ended its linger long before 60 s
    finally:
        proc.kill()
