"""The kopf storage class the operator runs with: a diff-base that costs no write."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import kopf

from .. import GROUP


class ObservedGenerationDiffBase(kopf.DiffBaseStorage):
    """kopf's diff-base without a write: the last handled spec is the one `status.observedGeneration` names.

    Every reconcile that handles a generation writes it to status.observedGeneration (a write it makes anyway),
    so a body whose status has caught up with its generation is unchanged (NOOP, or RESUME at start) and any
    other is handled afresh (CREATE: one handler serves create, update and resume alike). kopf's own
    diff-base would cost one more PATCH of every new or changed resource.
    """

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        if not str(body.get("apiVersion", "")).startswith(f"{GROUP}/"):
            return None  # Deployments, pods: no change handlers, nothing to compare (and nothing to copy)
        status = body.get("status") or {}
        if status.get("observedGeneration") == body.get("metadata", {}).get("generation"):
            return self.build(body=body)
        return None

    def build(self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None) -> kopf.BodyEssence:
        """kopf's essence, without first deep-copying the status and metadata it then drops (most of a body)."""
        if extra_fields:
            return super().build(body=body, extra_fields=extra_fields)
        meta = body.get("metadata", {})
        kept = {key: value for key, value in body.items() if key not in ("status", "metadata")}
        kept["metadata"] = {key: meta[key] for key in ("labels", "annotations") if key in meta}
        return super().build(body=kopf.Body(cast(kopf.RawBody, kept)))

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Nothing to write: the reconcile's status write recorded the handled generation."""
