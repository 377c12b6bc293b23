"""The build Job of an EngineBuild: ownership, placement, profile flags, and its script run against stubs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from inference_operator.api.engine_build import EngineBuild
from inference_operator.api.inference_deployment import DType, Quantization
from inference_operator.api.labels import GPU_PRODUCT_LABEL, GPU_RESOURCE, LABEL_BUILD, LABEL_DEPLOYMENT
from inference_operator.api.settings import StoreSettings
from inference_operator.render.build_job import CHECKPOINT_DIR, HF_DIR, build_script, render_build_job
from inference_operator.render.build_recipe import ConvertInputs, convert_commands, is_hopper
from inference_operator.render.engine_build import render_engine_build
from inference_operator.render.engine_key import build_job_name, engine_cache_key
from tests.support.trtllm_fixtures import (
    BUILD_UID,
    SECRET_REF,
    STORE,
    build_of,
    container,
    created_build,
    infd_with,
    pod,
    script_of,
)

# --- build Job -------------------------------------------------------------------------------------------


def test_build_job_belongs_to_its_engine_build_only() -> None:
    build = created_build(infd_with())
    job = render_build_job(build)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["name"] == build_job_name(build.metadata["name"])
    assert engine_cache_key(build.spec) in job["metadata"]["name"]
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "inference-operator.dev/v1alpha1",
            "kind": "EngineBuild",
            "name": build.metadata["name"],
            "uid": BUILD_UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert LABEL_DEPLOYMENT not in job["metadata"]["labels"]
    assert job["spec"]["template"]["metadata"]["labels"][LABEL_BUILD] == build.metadata["name"]


def test_build_job_needs_a_created_engine_build() -> None:
    obj = render_engine_build(infd_with(), STORE)
    with pytest.raises(ValueError, match="uid"):
        render_build_job(EngineBuild.model_validate(obj))


def test_build_job_limits_and_placement() -> None:
    job = render_build_job(created_build(infd_with()))
    spec = job["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["activeDeadlineSeconds"] == 3 * 60 * 60
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["ttlSecondsAfterFinished"] == 86400  # the EngineBuild keeps the result
    assert render_build_job(created_build(infd_with()), ttl_seconds=60)["spec"]["ttlSecondsAfterFinished"] == 60
    assert pod(job)["restartPolicy"] == "Never"
    assert pod(job)["nodeSelector"] == {GPU_PRODUCT_LABEL: "NVIDIA-H100-80GB-HBM3"}
    assert {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"} in pod(job)["tolerations"]
    # 70B parameters in 16 bits (~130 GiB) converted on 8 GPUs: the checkpoint, 16Gi of /dev/shm, 4Gi for each
    # of 10 processes in memory; three copies of the checkpoint on scratch (docs/resources.md).
    assert container(job)["resources"] == {
        "requests": {"cpu": "10", "memory": "187Gi", "ephemeral-storage": "398Gi"},
        "limits": {GPU_RESOURCE: 8, "ephemeral-storage": "398Gi"},
    }
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "396Gi"}} in pod(job)["volumes"]
    assert "annotations" not in job["spec"]["template"]["metadata"]
    assert container(job)["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod(job)["securityContext"]["runAsNonRoot"] is True


def test_build_job_mounts_the_store_read_write() -> None:
    job = render_build_job(created_build(infd_with()), StoreSettings(mount_path="/srv/engines"))
    volumes = {v["name"]: v for v in pod(job)["volumes"]}
    mount = next(m for m in container(job)["volumeMounts"] if m["mountPath"] == "/srv/engines")
    assert not mount.get("readOnly", False)
    assert volumes[mount["name"]]["persistentVolumeClaim"] == {"claimName": STORE.claim_name}
    assert "out=/srv/engines/" in script_of(job)


def test_hf_token_comes_from_the_secret_only() -> None:
    job = render_build_job(created_build(infd_with()))
    token = [e for e in container(job)["env"] if e["name"] == "HF_TOKEN"]
    assert token == [{"name": "HF_TOKEN", "valueFrom": SECRET_REF}]
    assert "HF_TOKEN" not in script_of(job)


def test_default_profile_flags() -> None:
    script = script_of(render_build_job(created_build(infd_with())))
    for flag in (
        "--gemm_plugin auto",
        "--gpt_attention_plugin auto",
        "--use_paged_context_fmha enable",
        "--max_batch_size 64",
        "--max_input_len 4096",
        "--max_seq_len 8192",
        "--workers 8",
    ):
        assert flag in script
    assert "--multiple_profiles" not in script
    assert "--use_fp8_context_fmha" not in script


@pytest.mark.parametrize(
    ("product", "quantization", "fp8_fmha"),
    [
        ("NVIDIA-H100-80GB-HBM3", "fp8", True),
        ("NVIDIA-GH200-480GB", "fp8", True),
        ("NVIDIA-A100-SXM4-80GB", "fp8", False),
        ("NVIDIA-H100-80GB-HBM3", "none", False),
    ],
)
def test_aggressive_profile_flags(product: str, quantization: str, fp8_fmha: bool) -> None:
    script = script_of(render_build_job(build_of(profile="aggressive", gpuProduct=product, quantization=quantization)))
    assert "--multiple_profiles enable" in script
    assert ("--use_fp8_context_fmha enable" in script) is fp8_fmha


@pytest.mark.parametrize(
    ("product", "hopper"),
    [
        ("NVIDIA-H100-80GB-HBM3", True),
        ("NVIDIA-H200", True),
        ("NVIDIA-H100-NVL", True),
        ("NVIDIA-GH200-480GB", True),
        ("NVIDIA-L40S", False),
        ("NVIDIA-A100-SXM4-80GB", False),
        ("NVIDIA-B200", False),
    ],
)
def test_hopper_detection(product: str, hopper: bool) -> None:
    assert is_hopper(product) is hopper


def test_extra_build_args_come_last() -> None:
    script = script_of(render_build_job(build_of(extraBuildArgs=["--max_num_tokens", "16384"])))
    build_line = next(line for line in script.splitlines() if line.startswith("trtllm-build "))
    assert build_line.endswith("--max_num_tokens 16384")


def test_marker_is_written_last_and_checked_first() -> None:
    lines = script_of(render_build_job(created_build(infd_with()))).splitlines()
    assert lines[0] == "set -euo pipefail"
    first_marker = next(i for i, line in enumerate(lines) if "COMPLETE" in line)
    assert lines[first_marker].startswith("if [ -f ") and "exit 0" in lines[first_marker + 2]
    build = next(i for i, line in enumerate(lines) if line.startswith("trtllm-build "))
    publish = next(i for i, line in enumerate(lines) if line.startswith("mv ") and ".partial/engine" in line)
    writes = [i for i, line in enumerate(lines) if "COMPLETE" in line and i > first_marker]
    assert build < publish < min(writes)
    assert lines[writes[-1]] == 'mv "$out/COMPLETE.tmp" "$out/COMPLETE"'
    assert all("COMPLETE" not in line for line in lines[writes[-1] + 1 :])


@pytest.mark.parametrize(
    ("quantization", "architecture", "expected"),
    [
        ("none", "LlamaForCausalLM", "models/core/llama/convert_checkpoint.py"),
        ("none", "Qwen2ForCausalLM", "models/core/qwen/convert_checkpoint.py"),
        ("none", "FalconForCausalLM", "--qformat full_prec"),
        ("fp8", "LlamaForCausalLM", "--qformat fp8 --kv_cache_dtype fp8"),
        ("int4-gptq", "LlamaForCausalLM", "models/core/llama/convert_checkpoint.py"),
    ],
)
def test_conversion_step(quantization: str, architecture: str, expected: str) -> None:
    script = script_of(render_build_job(build_of(quantization=quantization, architecture=architecture)))
    assert expected in script
    assert "--tp_size 8 --pp_size 1" in script


def test_awq_converts_an_autoawq_checkpoint_or_quantizes_a_full_one() -> None:
    inputs = ConvertInputs(
        "/scratch/hf", "/scratch/ckpt", "LlamaForCausalLM", DType.BFLOAT16, Quantization.INT4_AWQ, 2, 1
    )
    lines = convert_commands(inputs)
    text = "\n".join(lines)
    assert "grep -q '\"quantization_config\"' /scratch/hf/config.json" in lines[0]
    assert "llama/convert_checkpoint.py" in lines[1]
    assert "--qformat int4_awq --awq_block_size 128" in text


def test_build_script_quotes_user_text() -> None:
    script = script_of(render_build_job(build_of(extraBuildArgs=["--log_level", "info; rm -rf /"])))
    assert "'info; rm -rf /'" in script


# --- the build script, run for real against stub tools -----------------------------------------------------

STUB = """#!/usr/bin/env bash
set -euo pipefail
echo "$(basename "$0") $*" >> "$STUB_LOG"
out=""; prev=""
for a in "$@"; do
  case "$prev" in --output_dir|--local-dir) out="$a";; esac
  prev="$a"
done
case "$(basename "$0")" in
  hf) mkdir -p "$out"
      for f in config.json tokenizer.json model-00001.safetensors; do echo x > "$out/$f"; done;;
  python3) mkdir -p "$out"; echo '{}' > "$out/config.json";;
  trtllm-build) [ -z "${STUB_FAIL_BUILD:-}" ] || exit 3; mkdir -p "$out"; echo e > "$out/rank0.engine";;
esac
"""


def run_build(tmp: Path, script: str, fail_build: bool = False) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash is not None, "the build script test needs bash"
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("hf", "python3", "trtllm-build"):
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    scratch = tmp / "scratch"
    local = script.replace(HF_DIR, str(scratch / "hf")).replace(CHECKPOINT_DIR, str(scratch / "ckpt"))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_LOG": str(tmp / "calls.log")}
    if fail_build:
        env["STUB_FAIL_BUILD"] = "1"
    return subprocess.run([bash, "-c", local], env=env, capture_output=True, text=True, check=False)


def test_build_script_publishes_then_marks_and_is_idempotent(tmp_path: Path) -> None:
    build = created_build(infd_with())
    store = tmp_path / "engines"
    script = build_script(build, str(store))
    out = store / build.metadata["name"]

    first = run_build(tmp_path, script)
    assert first.returncode == 0, first.stderr
    assert (out / "COMPLETE").read_text() == f"{engine_cache_key(build.spec)}\n"
    assert (out / "engine" / "rank0.engine").exists()
    assert sorted(p.name for p in (out / "tokenizer").iterdir()) == ["config.json", "tokenizer.json"]
    assert not (out / ".partial").exists()
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["hf", "python3", "trtllm-build"]

    # A retry after success (or a Job re-created after the operator lost track) does nothing, successfully.
    again = run_build(tmp_path, script, fail_build=True)
    assert again.returncode == 0, again.stderr
    assert len((tmp_path / "calls.log").read_text().splitlines()) == len(calls)


def test_failed_build_leaves_no_marker_and_no_engine(tmp_path: Path) -> None:
    build = created_build(infd_with())
    store = tmp_path / "engines"
    failed = run_build(tmp_path, build_script(build, str(store)), fail_build=True)
    assert failed.returncode != 0
    out = store / build.metadata["name"]
    assert not (out / "COMPLETE").exists()
    assert not (out / "engine").exists()
    # The next attempt starts from a clean .partial and succeeds.
    assert run_build(tmp_path, build_script(build, str(store))).returncode == 0
    assert (out / "COMPLETE").exists()


def test_build_job_downloads_through_the_hub_setting_as_a_named_user() -> None:
    env = render_build_job(created_build(infd_with()), None, "http://hub.internal")["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["HF_ENDPOINT"] == "http://hub.internal"
    assert values["USER"] == values["LOGNAME"] == "engine"
    plain = render_build_job(created_build(infd_with()))["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "HF_ENDPOINT" not in {e["name"] for e in plain}
