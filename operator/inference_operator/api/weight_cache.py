"""The WeightCache API: one cache entry of model weights, keyed by (source, model, revision), on a PVC.

An entry is filled once by a download Job and read, read-only and offline, by every serving pod of the
namespace that asks for the same key. No resource owns it (no ownerReferences): deleting a resource never
deletes an entry; unused entries are evicted oldest-first over the operator's storage budget
(INFOP_WEIGHT_CACHE_BUDGET). Entries are per namespace, so a gated model's token (a Secret of that namespace)
is read only by a Job of that namespace and never reaches another namespace's pods (docs/weight-cache.md).
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field, field_validator

from .base import ApiModel, Condition, Quantity, SecretKeySelector, cel

KIND = "WeightCache"
PLURAL = "weightcaches"
SINGULAR = "weightcache"
SHORT_NAMES = ["wc"]

# spec.model.cache.source schemes: the Hub (the default, or the operator's mirror), any S3-compatible store,
# and a directory of an existing claim of the namespace.
SCHEMES = ("hf", "s3", "pvc")


class CachePhase(enum.StrEnum):
    PENDING = "Pending"
    DOWNLOADING = "Downloading"
    COMPLETE = "Complete"
    FAILED = "Failed"


def source_problem(source: str) -> str | None:
    """Why a source URI cannot be fetched (the message names the field), or None."""
    scheme, sep, rest = source.partition("://")
    if not sep or scheme not in SCHEMES:
        return (
            f"spec.model.cache.source: unknown scheme in {source!r}; use s3://BUCKET/PREFIX, pvc://CLAIM/PATH, "
            "or leave it unset for the Hugging Face Hub"
        )
    if scheme != "hf" and not rest.split("/", 1)[0]:
        return f"spec.model.cache.source: {source!r} names no {'bucket' if scheme == 's3' else 'claim'}"
    return None


class ModelCacheSpec(ApiModel):
    """Whether and where the model's weights are cached for every replica (spec.model.cache)."""

    enabled: bool | None = Field(
        default=None,
        description="true: the weights are downloaded once into a WeightCache entry of the namespace (a PVC) that "
        "every replica mounts read-only and serves offline; replicas start only once it is complete. false: each "
        "pod downloads into its own emptyDir at every start. Unset: the operator's default (the chart's "
        "weightCache.enabledByDefault, true unless the platform turned it off).",
    )

    def is_on(self, default: bool) -> bool:
        """Whether the resource caches its weights, given the operator's default."""
        return default if self.enabled is None else self.enabled

    source: str | None = Field(
        default=None,
        max_length=1024,
        description="Where the weights come from: unset for the Hugging Face Hub (or the operator's mirror, "
        "INFOP_HF_ENDPOINT), s3://BUCKET/PREFIX for an S3-compatible store, pvc://CLAIM/PATH for a directory of an "
        "existing claim in this namespace.",
    )
    s3_endpoint: str | None = Field(
        default=None, max_length=512, description="URL of the S3-compatible store, e.g. http://minio.storage:9000."
    )
    s3_credentials: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Secret of this namespace with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; unset: anonymous.",
    )
    storage_class: str | None = Field(
        default=None, max_length=253, description="Storage class of the entry's PVC; unset: the cluster's default."
    )
    size: Quantity | None = Field(
        default=None,
        description="Size of the entry's PVC; unset: the weights' estimated size plus a fifth, at least 1Gi.",
    )
    access_mode: str = Field(
        default="ReadWriteMany",
        pattern=r"^(ReadWriteMany|ReadWriteOnce)$",
        description="ReadWriteMany (replicas on any node) or ReadWriteOnce (node-local storage: every replica and "
        "the download Job must land on one node; docs/weight-cache.md).",
    )

    @field_validator("source")
    @classmethod
    def known_scheme(cls, value: str | None) -> str | None:
        problem = source_problem(value) if value else None
        if problem:
            raise ValueError(problem.split(": ", 1)[1])
        return value


class ResolveOutcome(enum.StrEnum):
    """What the Hub said of spec.model.revision (status.weights.resolved.outcome)."""

    RESOLVED = "Resolved"  # the Hub named its commit: the entry's key
    COMMIT = "Commit"  # the revision is a 40-hex commit: the key as written, nothing asked
    AS_WRITTEN = "AsWritten"  # no commit to be had without a token (401/403): the key is the revision as written
    REVISION_NOT_FOUND = "RevisionNotFound"
    MODEL_NOT_FOUND = "ModelNotFound"


class ResolvedRevision(ApiModel):
    """spec.model.revision as the operator resolved it, once: pinned here, so a restart reads it back and a moving
    branch does not move a running resource; a new source, model or revision is resolved anew."""

    source: str = Field(description="The source resolved against (hf://MODEL).")
    model: str = Field(description="spec.model.name when it was resolved.")
    revision: str = Field(description="spec.model.revision as written (a branch, tag or commit).")
    outcome: ResolveOutcome = Field(description="Resolved, Commit, AsWritten, RevisionNotFound or ModelNotFound.")
    commit: str | None = Field(default=None, description="The commit the weight cache entry is keyed by, if any.")
    message: str | None = Field(default=None, description="Why the revision as written is the key, or was refused.")
    generation: int | None = Field(
        default=None, description="Of a refused revision: the metadata.generation it was asked at; an edit asks again."
    )


class WeightsStatus(ApiModel):
    """An InferenceDeployment's view of its weight cache entry (status.weights)."""

    entry: str | None = Field(
        default=None, description="The WeightCache entry the resource serves from; unset while none can be named."
    )
    phase: CachePhase = Field(description="Pending, Downloading, Complete or Failed.")
    message: str = Field(default="", description="What the entry says: downloading, cached, or why it failed.")
    reason: str | None = Field(
        default=None,
        description="Why the weights are not there, in CamelCase: the download's cause, the revision's "
        "(RevisionNotFound, ModelNotFound), or Resolving while the Hub does not answer.",
    )
    resolved: ResolvedRevision | None = Field(
        default=None, description="spec.model.revision resolved to a commit, for Hub sources (docs/weight-cache.md)."
    )
    bytes_done: int | None = Field(default=None, ge=0, description="Bytes downloaded so far, as the Job says.")
    bytes_total: int | None = Field(default=None, ge=0, description="The weights' size, where the source says it.")


class WeightCacheSpec(ApiModel):
    """The entry's key (source, model, revision) and how to fill it. Immutable: a new key is a new entry."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(("self == oldSelf", "spec is immutable: a new key makes a new entry"))
    }

    source: str = Field(
        min_length=1, max_length=1024, description="hf://MODEL, s3://BUCKET/PREFIX or pvc://CLAIM/PATH."
    )
    model: str = Field(min_length=1, max_length=256, description="Hugging Face repository id of the model.")
    revision: str = Field(
        min_length=1,
        max_length=128,
        description="The commit the Hub resolved the resource's revision to, or the revision as written where the "
        "source resolves none (S3, a claim, a model only a token may read).",
    )
    s3_endpoint: str | None = Field(default=None, max_length=512, description="URL of the S3-compatible store.")
    s3_credentials: str | None = Field(default=None, max_length=253, description="Secret with the S3 keys.")
    credentials: SecretKeySelector | None = Field(
        default=None, description="Hugging Face token of the first resource that asked, for gated models."
    )
    storage_class: str | None = Field(default=None, max_length=253, description="Storage class of the PVC.")
    size: Quantity = Field(description="Size of the PVC.")
    access_mode: str = Field(default="ReadWriteMany", description="Access mode of the PVC.")
    image: str = Field(
        min_length=1, max_length=512, description="Image of the download Job (python3, huggingface_hub)."
    )
    node_selector: dict[str, str] = Field(default_factory=dict, description="nodeSelector of the download Job.")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="Tolerations of the download Job.")


class WeightCacheStatus(ApiModel):
    """Progress and result of the entry's download."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    phase: CachePhase | None = Field(default=None, description="Pending, Downloading, Complete or Failed.")
    claim_name: str | None = Field(default=None, description="The PVC holding the weights.")
    job_name: str | None = Field(default=None, description="The download Job.")
    path: str | None = Field(default=None, description="Directory of the weights inside the PVC.")
    reason: str | None = Field(default=None, description="Why the download failed, in CamelCase.")
    message: str | None = Field(default=None, description="What is happening, or why the download failed.")
    completion_time: str | None = Field(default=None, description="When the download finished.")
    bytes_done: int | None = Field(default=None, ge=0, description="Bytes downloaded so far (the Job's count).")
    bytes_total: int | None = Field(default=None, ge=0, description="The weights' size, where the source says it.")
    commit: str | None = Field(default=None, description="The commit the Hub resolved the revision to, if any.")
    conditions: list[Condition] = Field(default_factory=list, description="Conditions.")
    kopf: dict[str, Any] | None = Field(default=None, description="Bookkeeping of kopf; not for people.")


class WeightCache(ApiModel):
    """One cached copy of a model's weights, shared by every resource of the namespace with the same key."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: WeightCacheSpec
    status: WeightCacheStatus | None = None
