"""The build Job of an EngineBuild: download, convert, trtllm-build, publish. Pure: (EngineBuild) -> dict.

The Job belongs to its EngineBuild (controller owner reference), never to an InferenceDeployment: deleting a
resource must not kill a build that other resources share. Its name carries the cache key, so a Job never
has a twin, and its script is idempotent: a retry, or a Job re-created after the operator lost track, finds
the completion marker and exits 0 at once, or starts over from a clean `.partial` directory.

Store layout per build (<mount>/<build name>/): engine/ (trtllm-build output), tokenizer/ (the checkpoint's
non-weight files, so serving needs neither the Hub nor the pinned revision's weights), and COMPLETE holding
the key, written last by an atomic rename: a directory without COMPLETE is never served.
"""

from __future__ import annotations

import shlex
from typing import Any

from .. import API_VERSION
from ..advisor.architectures import parameters_billions_from_name
from ..api.engine_build import KIND, BuildKind, EngineBuild
from ..api.inference_deployment import Quantization
from ..api.labels import GPU_RESOURCE
from ..api.settings import StoreSettings
from .build_recipe import BUILD_STEPS, ConvertInputs, convert_commands, profile_flags
from .common import (
    SHM_PATH,
    container_security_context,
    gpu_scheduling,
    hf_token_env,
    hub_env,
    identity_env,
    pod_security_context,
)
from .engine_build import BUILD_SHM_SIZE, build_gpus, engine_build_labels
from .engine_key import build_job_name, engine_cache_key, engine_dir
from .quantize_job import quantize_script
from .sizing import PodSizes, build_sizes, weights_bytes
from .weight_cache import SERVING_MOUNT, serving_model_path, serving_volume
from .weight_download import MARKER as WEIGHTS_MARKER

CONTAINER_NAME = "build"
STORE_VOLUME = "engine-store"
SCRATCH_VOLUME = "scratch"
SHM_VOLUME = "dshm"
# Node-local scratch for the downloaded and converted checkpoints (both deleted with the pod). A 70B BF16
# checkpoint is ~140 GB plus its converted copy: the node's ephemeral storage must hold both.
SCRATCH_PATH = "/scratch"
HF_DIR = f"{SCRATCH_PATH}/hf"
CHECKPOINT_DIR = f"{SCRATCH_PATH}/trtllm-checkpoint"
COMPLETE_MARKER = "COMPLETE"
# Meta's repositories also ship the original consolidated .pth weights (as large again); the converters read
# only the Hugging Face safetensors.
DOWNLOAD_EXCLUDES = ("original/*",)
# A failed pod is replaced only once it has fully terminated, so two attempts never write one `.partial`
# directory at the same time (Kubernetes Job podReplacementPolicy, GA in 1.34).
POD_REPLACEMENT_POLICY = "Failed"


def build_owner_reference(build: EngineBuild) -> dict[str, Any]:
    """Controller reference to the EngineBuild: the Job goes with its EngineBuild and with nothing else."""
    uid = build.metadata.get("uid")
    if not uid:
        name = build.metadata.get("name")
        raise ValueError(f"EngineBuild {name} has no metadata.uid: create it before its Job")
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": build.metadata["name"],
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def hf_dir(build: EngineBuild) -> str:
    """Where the build reads the Hugging Face checkpoint: its weight cache entry (read-only), else scratch."""
    return serving_model_path() if build.spec.weight_cache else HF_DIR


def fetch_verb(build: EngineBuild) -> str:
    return "reading the weight cache entry of" if build.spec.weight_cache else "downloading"


def _download_lines(build: EngineBuild) -> list[str]:
    spec = build.spec
    q = shlex.quote
    if spec.weight_cache:
        # The controller creates the EngineBuild only once the entry is Complete; a missing marker is a bug, said.
        missing = q(f"weight cache entry {spec.weight_cache} is not complete")
        return [
            f"[ -f {SERVING_MOUNT}/{WEIGHTS_MARKER} ] || {{ echo {missing} >&2; exit 1; }}",
            f"echo {q(f'reading {spec.model} from weight cache entry {spec.weight_cache}: no download')}",
        ]
    args = [spec.model, "--revision", spec.revision, "--local-dir", HF_DIR]
    for pattern in DOWNLOAD_EXCLUDES:
        args += ["--exclude", pattern]
    quoted = shlex.join(args)
    return [
        # `hf` replaced `huggingface-cli` in huggingface_hub 0.34; same download arguments, HF_TOKEN from env.
        "if command -v hf >/dev/null 2>&1; then",
        f"  hf download {quoted}",
        "else",
        f"  huggingface-cli download {quoted}",
        "fi",
    ]


def trtllm_build_args(build: EngineBuild, output_dir: str) -> list[str]:
    """trtllm-build arguments: shapes from the spec, the profile's flags, the user's extra args last (win)."""
    spec = build.spec
    return [
        BUILD_STEPS.build_command,
        "--checkpoint_dir",
        CHECKPOINT_DIR,
        "--output_dir",
        output_dir,
        "--max_batch_size",
        str(spec.max_batch_size),
        "--max_input_len",
        str(spec.max_input_len),
        "--max_seq_len",
        str(spec.max_seq_len),
        # One worker per GPU the Job holds: every rank's engine (llama README); a multi-node topology's ranks
        # take turns on one node's GPUs (build_gpus).
        "--workers",
        str(build_gpus(spec)),
        *profile_flags(spec.profile, spec.quantization, spec.gpu_product),
        *spec.extra_build_args,
    ]


def build_script(build: EngineBuild, mount_path: str) -> str:
    """The bash script of the build container; everything user-supplied is shell-quoted."""
    spec = build.spec
    key = engine_cache_key(spec)
    out = engine_dir(mount_path, build.metadata["name"])
    source = hf_dir(build)
    if spec.kind is BuildKind.QUANTIZATION:
        return quantize_script(build, out, key, source, _download_lines(build), COMPLETE_MARKER)
    q = shlex.quote
    # A read-only entry is neither cleaned nor created; scratch's download directory is, for a clean retry.
    scratch_hf = "" if spec.weight_cache else f" {HF_DIR}"
    convert = convert_commands(
        ConvertInputs(
            source,
            CHECKPOINT_DIR,
            spec.architecture,
            spec.dtype,
            spec.quantization,
            spec.tensor,
            spec.pipeline,
        )
    )
    lines = [
        "set -euo pipefail",
        f"out={q(out)}",
        f'if [ -f "$out/{COMPLETE_MARKER}" ]; then',
        f'  echo "engine {key} is already complete in $out: nothing to do"',
        "  exit 0",
        "fi",
        f'rm -rf "$out/.partial"{scratch_hf} {CHECKPOINT_DIR}',
        f'mkdir -p "$out/.partial/tokenizer"{scratch_hf}',
        f"echo {q(f'[1/4] {fetch_verb(build)} {spec.model} at revision {spec.revision}')}",
        *_download_lines(build),
        "echo '[2/4] converting to a TensorRT-LLM checkpoint'",
        *convert,
        "echo '[3/4] building the engine'",
        shlex.join(trtllm_build_args(build, f"{out}/.partial/engine")),
        # Tokenizer, chat template and HF config (trtllm-serve reads model_type from it), without weights.
        f"find {source} -maxdepth 1 -type f ! -name '*.safetensors' ! -name '*.bin' ! -name '*.pt' "
        "! -name '*.pth' -exec cp -t \"$out/.partial/tokenizer\" {} +",
        "echo '[4/4] publishing'",
        'rm -rf "$out/engine" "$out/tokenizer"',
        'mv "$out/.partial/engine" "$out/.partial/tokenizer" "$out/"',
        'rmdir "$out/.partial"',
        # The marker goes last, through a rename, so no reader ever sees a half-written engine as complete.
        f"printf '%s\\n' {key} > \"$out/{COMPLETE_MARKER}.tmp\"",
        f'mv "$out/{COMPLETE_MARKER}.tmp" "$out/{COMPLETE_MARKER}"',
        f"echo 'engine {key} complete'",
    ]
    return "\n".join(lines) + "\n"


# A finished Job (and its pods' logs) stays a day, then the TTL controller removes it; the EngineBuild keeps
# the result (status.phase, message, conditions) and the operator never re-creates the Job of a finished build.
# (api/settings.py: INFOP_BUILD_JOB_TTL_SECONDS).
JOB_TTL_SECONDS_AFTER_FINISHED = 86400


def build_pod_sizes(build: EngineBuild) -> PodSizes:
    """The sizes the EngineBuild carries; one created by an older operator is sized from its model's name."""
    spec = build.spec
    weights = weights_bytes(parameters_billions_from_name(spec.model), spec.dtype, Quantization.NONE)
    derived = build_sizes(weights, spec.tensor * spec.pipeline, BUILD_SHM_SIZE, spec.scratch_size)
    return PodSizes(
        cpu=str(spec.cpu) if spec.cpu is not None else derived.cpu,
        memory=str(spec.memory) if spec.memory is not None else derived.memory,
        disk_size_limit=derived.disk_size_limit,
        ephemeral_storage=derived.ephemeral_storage,
    )


def _container(build: EngineBuild, mount_path: str, sizes: PodSizes, hub_endpoint: str | None) -> dict[str, Any]:
    spec = build.spec
    env = [
        *hf_token_env(spec.credentials),
        *hub_env(hub_endpoint),
        *identity_env(),
        # HOME and the Hub cache (also ModelOpt's calibration dataset) on scratch: the image's HOME is root's.
        {"name": "HOME", "value": f"{SCRATCH_PATH}/home"},
        {"name": "HF_HOME", "value": f"{SCRATCH_PATH}/huggingface"},
    ]
    mounts = [
        {"name": STORE_VOLUME, "mountPath": mount_path},
        {"name": SCRATCH_VOLUME, "mountPath": SCRATCH_PATH},
        {"name": SHM_VOLUME, "mountPath": SHM_PATH},
    ]
    if spec.weight_cache:
        mounts.append(serving_volume(spec.weight_cache)[1])
    return {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["bash", "-c", build_script(build, mount_path)],
        "env": env,
        "resources": {
            "requests": {"cpu": sizes.cpu, "memory": sizes.memory, "ephemeral-storage": sizes.ephemeral_storage},
            "limits": {GPU_RESOURCE: build_gpus(spec), "ephemeral-storage": sizes.ephemeral_storage},
        },
        "volumeMounts": mounts,
        "securityContext": container_security_context(),
    }


def render_build_job(
    build: EngineBuild,
    store: StoreSettings | None = None,
    hub_endpoint: str | None = None,
    ttl_seconds: int = JOB_TTL_SECONDS_AFTER_FINISHED,
) -> dict[str, Any]:
    """The batch/v1 Job compiling one engine on the GPU product it will serve on.

    ttlSecondsAfterFinished outlasts the operator's reaction to a finished Job by far: the result is in the
    EngineBuild's status long before the Job goes. Were the operator down for longer, the Job would be created
    again and its idempotent script find the COMPLETE marker. No Prometheus annotations: a build serves nothing.
    """
    mount_path = (store or StoreSettings()).mount_path
    spec = build.spec
    name = build.metadata["name"]
    labels = engine_build_labels(spec, name)
    node_selector, tolerations = gpu_scheduling(spec.gpu_product, build_gpus(spec))
    sizes = build_pod_sizes(build)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "nodeSelector": node_selector,
        "tolerations": tolerations,
        "containers": [_container(build, mount_path, sizes, hub_endpoint)],
        "volumes": [
            {"name": STORE_VOLUME, "persistentVolumeClaim": {"claimName": spec.store_claim}},
            {"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": sizes.disk_size_limit}},
            {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": BUILD_SHM_SIZE}},
        ],
    }
    if spec.weight_cache:  # the entry's claim, read-only twice over (claim and mount): the build never writes it
        pod_spec["volumes"].append(serving_volume(spec.weight_cache)[0])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": build_job_name(name),
            "namespace": build.metadata["namespace"],
            "labels": labels,
            "ownerReferences": [build_owner_reference(build)],
        },
        "spec": {
            "backoffLimit": spec.backoff_limit,
            "activeDeadlineSeconds": spec.deadline_seconds,
            "podReplacementPolicy": POD_REPLACEMENT_POLICY,
            "ttlSecondsAfterFinished": ttl_seconds,
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
        },
    }
