"""The only module that talks to the API server: server-side apply, create-if-absent, deletes, status, Events.

Every write uses one field manager. Reads live here too, so that a reader finds all I/O in one place.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import kubernetes
from kubernetes.client.exceptions import ApiException

from . import FIELD_MANAGER, GROUP, VERSION, metrics

# kind -> (API path prefix, plural)
_KINDS: dict[str, tuple[str, str]] = {
    "Deployment": ("apis/apps/v1", "deployments"),
    "Service": ("api/v1", "services"),
    "Job": ("apis/batch/v1", "jobs"),
    "Pod": ("api/v1", "pods"),
    "PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims"),
    "Event": ("api/v1", "events"),
    "PodMonitor": ("apis/monitoring.coreos.com/v1", "podmonitors"),
    "InferenceDeployment": (f"apis/{GROUP}/{VERSION}", "inferencedeployments"),
    "EngineBuild": (f"apis/{GROUP}/{VERSION}", "enginebuilds"),
}


class KubeError(Exception):
    """An API call failed. `status` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def transient(self) -> bool:
        """Time can fix it: conflicts, throttling, server errors, an unreachable server."""
        return self.status in (0, 409, 429) or self.status >= 500


class NotFound(KubeError):
    pass


def _error(exc: ApiException) -> KubeError:
    message = exc.reason or ""
    reason = ""
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message", message)
        reason = body.get("reason", "")
    except (ValueError, TypeError):
        pass
    cls = NotFound if exc.status == 404 else KubeError
    return cls(int(exc.status or 0), reason, message)


def _marker(obj: dict[str, Any]) -> str:
    """What changes when someone else edits the object: the generation where the kind has a spec generation."""
    meta = obj.get("metadata", {})
    if obj.get("kind") in ("Deployment", "Job") and "generation" in meta:
        return f"g{meta['generation']}"
    return f"rv{meta.get('resourceVersion', '')}"


def content_hash(obj: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass
class Kube:
    """A thin client over the official `kubernetes` package's transport."""

    api: kubernetes.client.ApiClient
    # uid -> (hash of what we applied, the object's generation or resourceVersion right after): a re-apply of
    # the same content onto an object nobody changed since is skipped, so child events cost no writes.
    _applied: dict[str, tuple[str, str]] = field(default_factory=dict)
    _applied_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_environment(cls) -> Kube:
        try:
            kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
        return cls(kubernetes.client.ApiClient())

    def _url(
        self,
        kind: str,
        namespace: str | None,
        name: str | None = None,
        sub: str | None = None,
        query: dict[str, str] | None = None,
    ) -> str:
        prefix, plural = _KINDS[kind]
        path = f"/{prefix}"
        if namespace is not None:
            path += f"/namespaces/{quote(namespace)}"
        path += f"/{plural}"
        if name is not None:
            path += f"/{quote(name)}"
        if sub is not None:
            path += f"/{sub}"
        host = str(self.api.configuration.host).rstrip("/")
        return host + path + (("?" + urlencode(query)) if query else "")

    def _call(self, method: str, url: str, body: Any = None, content_type: str = "application/json") -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        self.api.update_params_for_auth(headers, None, ["BearerToken"], url, method, body)
        try:
            # The transport serializes JSON and structured YAML bodies itself (apply-patch+yaml takes JSON).
            response = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=(5, 30))
            raw = response.read()  # type: ignore[no-untyped-call]
        except ApiException as exc:
            raise _error(exc) from None
        except OSError as exc:  # connection refused/reset: the API server is away
            raise KubeError(0, "Unreachable", str(exc)) from None
        if response.status >= 400:
            raise _error(
                ApiException(status=response.status, reason=response.reason, body=raw.decode(errors="replace"))
            )
        return json.loads(raw) if raw else None

    # Reads

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self._call("GET", self._url(kind, namespace, name))
            return result
        except NotFound:
            return None

    def list(self, kind: str, namespace: str | None, label_selector: str) -> list[dict[str, Any]]:
        result = self._call("GET", self._url(kind, namespace, query={"labelSelector": label_selector}))
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    def served(self, group_version: str) -> bool:
        """Whether the API server serves an API group version, e.g. monitoring.coreos.com/v1."""
        host = str(self.api.configuration.host).rstrip("/")
        try:
            self._call("GET", f"{host}/apis/{group_version}")
        except NotFound:
            return False
        return True

    # Writes

    def apply(self, obj: dict[str, Any], observed: dict[str, Any] | None = None) -> dict[str, Any]:
        """Server-side apply with our field manager; skipped when `observed` is exactly what we last applied."""
        digest = content_hash(obj)
        if observed is not None:
            with self._applied_lock:
                remembered = self._applied.get(observed["metadata"].get("uid", ""))
            if remembered == (digest, _marker(observed)):
                return observed
        meta = obj["metadata"]
        url = self._url(
            obj["kind"],
            meta.get("namespace"),
            meta["name"],
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
        )
        result: dict[str, Any] = self._call("PATCH", url, obj, "application/apply-patch+yaml")
        metrics.record_api_write("apply", obj["kind"])
        with self._applied_lock:
            self._applied[result["metadata"]["uid"]] = (digest, _marker(result))
        return result

    def create_if_absent(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create; if the name is taken, return what is there. Atomic by name: never two of one key."""
        meta = obj["metadata"]
        url = self._url(obj["kind"], meta.get("namespace"), query={"fieldManager": FIELD_MANAGER})
        try:
            created: dict[str, Any] = self._call("POST", url, obj)
            metrics.record_api_write("create", obj["kind"])
            return created
        except KubeError as exc:
            if exc.status != 409:
                raise
        existing = self.get(obj["kind"], meta["namespace"], meta["name"])
        if existing is None:
            raise KubeError(409, "Conflict", f"{obj['kind']} {meta['name']} exists and vanished; retry")
        return existing

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete with background propagation; False when it was already gone."""
        try:
            self._call("DELETE", self._url(kind, namespace, name), {"propagationPolicy": "Background"})
        except NotFound:
            return False
        metrics.record_api_write("delete", kind)
        return True

    def patch_status(self, kind: str, namespace: str, name: str, new: dict[str, Any], previous: dict[str, Any]) -> None:
        """Merge-patch the status subresource; keys the operator no longer sets are removed."""
        patch: dict[str, Any] = dict(new)
        for key in previous:
            if key not in new and key != "kopf":
                patch[key] = None
        self._call(
            "PATCH",
            self._url(kind, namespace, name, "status"),
            {"status": patch},
            "application/merge-patch+json",
        )
        metrics.record_api_write("patch", kind)

    def event(self, involved: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Record a core/v1 Event on an object (what `kubectl describe` shows). Best effort."""
        meta = involved["metadata"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "reportingInstance": FIELD_MANAGER,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self._call("POST", self._url("Event", meta["namespace"]), body)
            metrics.record_api_write("create", "Event")
        except KubeError:
            pass  # an Event lost is not worth failing a reconcile for


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KeyedLocks:
    """One lock per object key, so two triggers never reconcile the same resource at once."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def __call__(self, namespace: str, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((namespace, name), threading.Lock())

    def forget(self, namespace: str, name: str) -> None:
        with self._guard:
            self._locks.pop((namespace, name), None)
