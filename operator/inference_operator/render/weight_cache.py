"""A weight cache entry (WeightCache), its PVC and download Job, and how serving pods mount it. Pure.

The entry's name is a hash of its key (source, model, revision: for a Hub source the commit the operator resolved,
controller/inference_deployment/revision.py), so every resource of a namespace asking for the same weights names
the same entry and a restart can never create a twin. The PVC and the Job are owned by the
entry (deleting an evicted entry garbage-collects them); the entry is owned by nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import API_VERSION
from ..api import quantity
from ..api.inference_deployment import InferenceDeployment
from ..api.labels import LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_MODEL, LABEL_PREFIX, MANAGED_BY, model_label_value
from ..api.weight_cache import KIND, WeightCache
from .common import container_security_context, hf_token_env, hub_env, pod_security_context
from .engine_build import parameters_billions
from .sizing import GIB, gib, weights_bytes
from .weight_download import (
    CACHE_DIR,
    DOWNLOAD_PY,
    EXIT_REASONS,
    MODEL_SUBDIR,
    PROGRESS_LINGER_SECONDS,
    PROGRESS_PORT,
    SOURCE_DIR,
)

COMPONENT_WEIGHT_CACHE = "weight-cache"
LABEL_WEIGHT_CACHE = f"{LABEL_PREFIX}/weight-cache"
# Where serving pods find the entry (read-only): the weights are <mount>/model.
SERVING_MOUNT = "/weights"
VOLUME = "weight-cache"
# A fifth over the estimate: tokenizer, configs and the estimate's own error.
SIZE_HEADROOM = 1.2
DOWNLOAD_DEADLINE_SECONDS = 6 * 3600
DOWNLOAD_BACKOFF_LIMIT = 2


def source_uri(infd: InferenceDeployment) -> str:
    """The entry's source: the resource's spec.model.cache.source, else the Hub (hf://MODEL)."""
    return infd.spec.model.cache.source or f"hf://{infd.spec.model.name}"


def entry_name(source: str, model: str, revision: str) -> str:
    """wc-<hash of the key>: one name per (source, model, revision)."""
    digest = hashlib.sha256(f"{source}\n{model}\n{revision}".encode()).hexdigest()
    return f"wc-{digest[:20]}"


def entry_name_of(infd: InferenceDeployment, revision: str | None = None) -> str:
    """The entry of the resource's key; `revision`: the commit spec.model.revision resolved to (unset: as written)."""
    return entry_name(source_uri(infd), infd.spec.model.name, revision or infd.spec.model.revision)


def _labels(model: str) -> dict[str, str]:
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_COMPONENT: COMPONENT_WEIGHT_CACHE,
        LABEL_MODEL: model_label_value(model),
    }


def default_size(infd: InferenceDeployment) -> str:
    spec = infd.spec
    estimate = weights_bytes(parameters_billions(infd), spec.precision.dtype, spec.precision.quantization)
    return gib(max(GIB, estimate * SIZE_HEADROOM))


def render_weight_cache(infd: InferenceDeployment, revision: str | None = None) -> dict[str, Any]:
    """The entry the resource asks for (created if absent: the first requester's settings fill it); `revision`:
    the key's revision, the commit the Hub resolved spec.model.revision to (unset: the revision as written)."""
    spec, cache = infd.spec, infd.spec.model.cache
    body: dict[str, Any] = {
        "source": source_uri(infd),
        "model": spec.model.name,
        "revision": revision or spec.model.revision,
        "size": cache.size if cache.size is not None else default_size(infd),
        "accessMode": cache.access_mode,
        "image": spec.vllm_image,
        "nodeSelector": dict(spec.resources.node_selector),
        "tolerations": [t.to_wire() for t in spec.resources.tolerations],
    }
    optional = {
        "s3Endpoint": cache.s3_endpoint,
        "s3Credentials": cache.s3_credentials,
        "storageClass": cache.storage_class,
        "credentials": spec.model.credentials.to_wire() if spec.model.credentials else None,
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": entry_name_of(infd, revision),
            "namespace": infd.metadata["namespace"],
            "labels": _labels(spec.model.name),
        },
        "spec": body,
    }


def _owner(entry: WeightCache) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": entry.metadata["name"],
        "uid": entry.metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _meta(entry: WeightCache, name: str) -> dict[str, Any]:
    labels = _labels(entry.spec.model) | {LABEL_WEIGHT_CACHE: entry.metadata["name"]}
    return {
        "name": name,
        "namespace": entry.metadata["namespace"],
        "labels": labels,
        "ownerReferences": [_owner(entry)],
    }


def claim_name(entry_name: str) -> str:
    return entry_name


def job_name(entry_name: str) -> str:
    return f"{entry_name}-download"


def render_weight_claim(entry: WeightCache) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": [entry.spec.access_mode],
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": entry.spec.size}},
    }
    if entry.spec.storage_class:
        spec["storageClassName"] = entry.spec.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(entry, claim_name(entry.metadata["name"])),
        "spec": spec,
    }


def _env(entry: WeightCache, hub_endpoint: str | None) -> list[dict[str, Any]]:
    spec = entry.spec
    env: list[dict[str, Any]] = [
        {"name": "WC_SOURCE", "value": spec.source},
        {"name": "WC_MODEL", "value": spec.model},
        {"name": "WC_REVISION", "value": spec.revision},
        {"name": "HOME", "value": "/tmp"},
        {"name": "HF_HOME", "value": "/tmp/huggingface"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
        {"name": "WC_PROGRESS_PORT", "value": str(PROGRESS_PORT)},
        {"name": "WC_PROGRESS_LINGER", "value": str(PROGRESS_LINGER_SECONDS)},
        # The claim's requested size: weights larger than it fail before the download (VolumeFull).
        {"name": "WC_CLAIM_SIZE", "value": spec.size},
        {"name": "WC_CLAIM_BYTES", "value": str(quantity.to_bytes(spec.size))},
    ]
    if spec.source.startswith("hf://"):
        env += hf_token_env(spec.credentials) + hub_env(hub_endpoint)
    if spec.s3_endpoint:
        env.append({"name": "WC_S3_ENDPOINT", "value": spec.s3_endpoint})
    if spec.s3_credentials:
        env += [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": spec.s3_credentials, "key": k}}}
            for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        ]
    return env


def _volumes(entry: WeightCache) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    name = entry.metadata["name"]
    volumes: list[dict[str, Any]] = [
        {"name": VOLUME, "persistentVolumeClaim": {"claimName": claim_name(name)}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [{"name": VOLUME, "mountPath": CACHE_DIR}, {"name": "tmp", "mountPath": "/tmp"}]
    if entry.spec.source.startswith("pvc://"):
        claim = entry.spec.source[len("pvc://") :].split("/", 1)[0]
        volumes.append({"name": "source", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}})
        mounts.append({"name": "source", "mountPath": SOURCE_DIR, "readOnly": True})
    return volumes, mounts


def render_download_job(entry: WeightCache, hub_endpoint: str | None) -> dict[str, Any]:
    """The Job filling the entry, once. Its exit codes for causes time cannot fix fail it at once."""
    volumes, mounts = _volumes(entry)
    meta = _meta(entry, job_name(entry.metadata["name"]))
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": [
            {
                "name": "download",
                "image": entry.spec.image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["python3", "-c", DOWNLOAD_PY],
                # GET /progress: bytes done / total, read by the operator (the pod has no API credentials).
                "ports": [{"name": "progress", "containerPort": PROGRESS_PORT, "protocol": "TCP"}],
                "env": _env(entry, hub_endpoint),
                "volumeMounts": mounts,
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                "securityContext": container_security_context(),
            }
        ],
        "volumes": volumes,
    }
    if entry.spec.node_selector:
        pod["nodeSelector"] = dict(entry.spec.node_selector)
    if entry.spec.tolerations:
        pod["tolerations"] = [dict(t) for t in entry.spec.tolerations]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": DOWNLOAD_BACKOFF_LIMIT,
            "activeDeadlineSeconds": DOWNLOAD_DEADLINE_SECONDS,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": "download", "operator": "In", "values": sorted(EXIT_REASONS)},
                    }
                ]
            },
            "template": {"metadata": {"labels": dict(meta["labels"])}, "spec": pod},
        },
    }


def serving_volume(entry_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entry as a serving pod mounts it: read-only twice over (claim and mount)."""
    return (
        {"name": VOLUME, "persistentVolumeClaim": {"claimName": claim_name(entry_name), "readOnly": True}},
        {"name": VOLUME, "mountPath": SERVING_MOUNT, "readOnly": True},
    )


def serving_model_path() -> str:
    return f"{SERVING_MOUNT}/{MODEL_SUBDIR}"
