"""What the controller needs of an API client. `kube.client.Kube` is the real one; tests use an in-memory fake
(tests/support/fake_kube.py) that keeps objects in a dict and answers the same way.

Failures are `kube.errors.KubeError` (NotFound for a 404 where the method does not say otherwise).
"""

from __future__ import annotations

from typing import Any, Protocol


class Client(Protocol):
    def get(self, kind: str, namespace: str, name: str, fresh: bool = False) -> dict[str, Any] | None:
        """The object, or None when it does not exist; `fresh` never answers from a cache."""

    def list(
        self, kind: str, namespace: str | None, label_selector: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Objects matching the selector; namespace None: every namespace (or a cluster-scoped kind, e.g. Node)."""

    def served(self, group_version: str) -> bool:
        """Whether the API server serves an API group version, e.g. monitoring.coreos.com/v1."""

    def observe(self, obj: dict[str, Any], deleted: bool = False) -> dict[str, Any] | None:
        """A watch event's body, remembered for reads; returns the body known before, if any."""

    def apply(
        self, obj: dict[str, Any], observed: dict[str, Any] | None = None, field_manager: str = ...
    ) -> dict[str, Any]:
        """Server-side apply (field_manager: the operator's); returns the object as the server now has it."""

    def create_if_absent(self, obj: dict[str, Any], field_manager: str = ...) -> dict[str, Any]:
        """Create, or return what already has the name: never two of one name (field_manager: the operator's)."""

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete; False when it was already gone."""

    def patch_status(
        self, kind: str, namespace: str, name: str, new: dict[str, Any], previous: dict[str, Any]
    ) -> None: ...

    def event(self, involved: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Record a core/v1 Event on an object. Best effort: never raises."""
