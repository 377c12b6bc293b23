"""The API client: the only code that talks to the API server. Reads (through the cache), server-side apply,
create-if-absent, deletes, status patches, Events; every write with one field manager.

The controller sees it through `kube.protocol.Client`, so unit tests run the reconcile on an in-memory fake.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import kubernetes
from kubernetes.client.exceptions import ApiException

from .. import FIELD_MANAGER, GROUP, VERSION
from ..api.timestamps import utc_now
from ..metrics import operator as metrics
from .applied import digest, first_difference, stamp_of, stamped
from .cache import ObjectCache
from .errors import KubeError, NotFound

# kind -> (API path prefix, plural)
_KINDS: dict[str, tuple[str, str]] = {
    "Deployment": ("apis/apps/v1", "deployments"),
    "LeaderWorkerSet": ("apis/leaderworkerset.x-k8s.io/v1", "leaderworkersets"),
    "Service": ("api/v1", "services"),
    "Job": ("apis/batch/v1", "jobs"),
    "Pod": ("api/v1", "pods"),
    "Node": ("api/v1", "nodes"),
    "PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims"),
    "Event": ("api/v1", "events"),
    "PodMonitor": ("apis/monitoring.coreos.com/v1", "podmonitors"),
    "HorizontalPodAutoscaler": ("apis/autoscaling/v2", "horizontalpodautoscalers"),
    "InferenceDeployment": (f"apis/{GROUP}/{VERSION}", "inferencedeployments"),
    "EngineBuild": (f"apis/{GROUP}/{VERSION}", "enginebuilds"),
    "WeightCache": (f"apis/{GROUP}/{VERSION}", "weightcaches"),
}
# Kinds kopf watches for the operator (runtime/handlers.py feeds their events to the cache): reads come from memory.
CACHED_KINDS = frozenset({"InferenceDeployment", "Deployment", "Service"})
# Objects the operator applied and remembers (about three per InferenceDeployment).
APPLIED_MAX = 50_000
# Objects per page of a priming listing (`Kube.prime`): a page of Deployments is about 2.5 MB of JSON.
PRIME_PAGE = 500

logger = logging.getLogger(__name__)


def error_from(exc: ApiException) -> KubeError:
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
    # An HPA's status changes at every sync of the autoscaler; its generation only when its spec does.
    if obj.get("kind") in ("Deployment", "Job", "LeaderWorkerSet", "HorizontalPodAutoscaler") and "generation" in meta:
        return f"g{meta['generation']}"
    return f"rv{meta.get('resourceVersion', '')}"


# JSON is YAML, which is how the API server reads an apply patch, except for two things: a character beyond
# U+FFFF written as a JSON surrogate pair (YAML wants one \U escape) and a raw DEL (YAML refuses it).
_SURROGATE_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")
_LONE_SURROGATE = re.compile(r"(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}")


def _astral(match: re.Match[str]) -> str:
    code = 0x10000 + ((int(match[2], 16) - 0xD800) << 10) + (int(match[3], 16) - 0xDC00)
    return f"{match[1]}\\U{code:08x}"


def apply_patch_body(obj: dict[str, Any]) -> bytes:
    """The body of a server-side apply: JSON that YAML parsers read back unchanged, whatever the user wrote."""
    text = json.dumps(obj, allow_nan=False).replace("\x7f", "\\u007f")
    text = _SURROGATE_PAIR.sub(_astral, text)
    return _LONE_SURROGATE.sub(lambda match: f"{match[1]}\\ufffd", text).encode("ascii")


def removals(new: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) from `previous` to `new` for what the operator owns: `new`, with null for each
    key `previous` has and `new` has not, in nested objects too."""
    patch: dict[str, Any] = dict(new)
    for key, old in previous.items():
        if key not in new:
            patch[key] = None
        elif isinstance(old, dict) and isinstance(new[key], dict):
            patch[key] = removals(new[key], old)
    return patch


@dataclass
class Kube:
    """A thin client over the official `kubernetes` package's transport."""

    api: kubernetes.client.ApiClient
    # (kind, namespace, name) -> (uid, hash of what we applied, the object's generation or resourceVersion right
    # after): a re-apply of the same content onto an object nobody changed since is skipped, so child events cost
    # no writes. Forgotten on delete; least recently applied first out beyond APPLIED_MAX (a miss costs one apply).
    _applied: OrderedDict[tuple[str, str, str], tuple[str, str, str]] = field(default_factory=OrderedDict)
    _applied_lock: threading.Lock = field(default_factory=threading.Lock)
    cache: ObjectCache = field(default_factory=ObjectCache)

    @classmethod
    def from_environment(cls, connections: int = 10) -> Kube:
        try:
            kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
        config = kubernetes.client.Configuration.get_default_copy()
        # One pooled connection per worker thread: with fewer, urllib3 drops connections and handshakes TLS anew.
        config.connection_pool_maxsize = connections
        return cls(kubernetes.client.ApiClient(config))

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
            # The transport serializes dict bodies as JSON itself; apply patches come as bytes (apply_patch_body).
            response = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=(5, 30))
            raw = response.read()  # type: ignore[no-untyped-call]
        except ApiException as exc:
            raise error_from(exc) from None
        except OSError as exc:  # connection refused/reset: the API server is away
            raise KubeError(0, "Unreachable", str(exc)) from None
        if response.status >= 400:
            raise error_from(
                ApiException(status=response.status, reason=response.reason, body=raw.decode(errors="replace"))
            )
        return json.loads(raw) if raw else None

    # Reads

    def get(self, kind: str, namespace: str, name: str, fresh: bool = False) -> dict[str, Any] | None:
        """The object, from the cache for the watched kinds (a miss asks the API server), else from the server.

        `fresh` skips the cache (and refreshes it) for decisions that must not act on a lagging body.
        """
        cached = kind in CACHED_KINDS
        if cached and not fresh:
            known, obj = self.cache.lookup((kind, namespace, name))
            if known:
                return obj
        try:
            result: dict[str, Any] = self._call("GET", self._url(kind, namespace, name))
        except NotFound:
            if cached:
                self.cache.missing((kind, namespace, name))
            return None
        if cached:
            self.cache.put(result)
        return result

    def observe(self, obj: dict[str, Any], deleted: bool = False) -> dict[str, Any] | None:
        """A watch event's body (kopf's): remembered for reads; returns the body known before, if any."""
        if deleted:
            meta = obj.get("metadata") or {}
            self.forget_applied(str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")))
        return self.cache.swap(obj, deleted)

    def forget_applied(self, kind: str, namespace: str, name: str) -> None:
        with self._applied_lock:
            self._applied.pop((kind, namespace, name), None)

    @property
    def applied_count(self) -> int:
        with self._applied_lock:
            return len(self._applied)

    def list(
        self, kind: str, namespace: str | None, label_selector: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Objects matching the selector (namespace None: every namespace, or a cluster-scoped kind); `limit`
        returns at most that many (the first page), for a question that one object answers."""
        query = {"labelSelector": label_selector}
        if limit is not None:
            query["limit"] = str(limit)
        result = self._call("GET", self._url(kind, namespace, query=query))
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    def prime(
        self, kind: str, namespaces: Sequence[str] | None, label_selector: str, covers: Callable[[str], bool]
    ) -> int:
        """List every object of a watched kind matching the selector, page by page (in each of `namespaces`, or
        in every namespace when None), into the cache; then tell the cache the listing is complete for the
        namespaces `covers` accepts, so that a read of a name it did not hold is answered "absent" without a
        request. Returns how many objects it put. Raises KubeError (the cache is then as it was, unlisted).

        A restarted operator otherwise asks the API server for each child its reconciles read before kopf's own
        listing delivered it, and for every child a resource does not have (the other engine's Deployment): two
        GETs per resource (docs/benchmarks.md, restart at scale)."""
        prefix, _ = _KINDS[kind]
        api_version = prefix.split("/", 1)[1]  # "apis/apps/v1" -> "apps/v1", "api/v1" -> "v1"
        count = 0
        where: Sequence[str | None] = namespaces if namespaces is not None else [None]
        for namespace in where:
            token = ""
            while True:
                query = {"labelSelector": label_selector, "limit": str(PRIME_PAGE)}
                if token:
                    query["continue"] = token
                page = self._call("GET", self._url(kind, namespace, query=query)) or {}
                for item in page.get("items") or []:
                    if not covers(str((item.get("metadata") or {}).get("namespace", ""))):
                        continue  # a cluster-wide listing for namespace globs: another operator's namespace
                    # A list's items carry no kind or apiVersion; the cache keys by kind.
                    self.cache.put({"apiVersion": api_version, "kind": kind, **item})
                    count += 1
                token = str((page.get("metadata") or {}).get("continue") or "")
                if not token:
                    break
        self.cache.listed(kind, covers)
        return count

    def served(self, group_version: str) -> bool:
        """Whether the API server serves an API group version, e.g. monitoring.coreos.com/v1."""
        host = str(self.api.configuration.host).rstrip("/")
        try:
            self._call("GET", f"{host}/apis/{group_version}")
        except NotFound:
            return False
        return True

    # Writes

    def apply(
        self, obj: dict[str, Any], observed: dict[str, Any] | None = None, field_manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Server-side apply with our field manager, stamped with the digest of `obj` (kube/applied.py); skipped
        when `observed` (the object as the reconcile read it) is what we last applied, or carries the stamp and
        still holds every field of `obj`. Another `field_manager` (the seed's replicas handover) is applied as
        is, and not remembered."""
        if field_manager != FIELD_MANAGER:
            meta = obj["metadata"]
            query = {"fieldManager": field_manager, "force": "true"}
            handed: dict[str, Any] = self._call(
                "PATCH",
                self._url(obj["kind"], meta.get("namespace"), meta["name"], query=query),
                apply_patch_body(obj),
                "application/apply-patch+yaml",
            )
            metrics.record_api_write("apply", obj["kind"])
            return handed
        content = digest(obj)
        body = stamped(obj, content)
        meta = obj["metadata"]
        key = (str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"]))
        if observed is not None and self._unchanged(key, content, body, observed):
            return observed
        url = self._url(
            obj["kind"],
            meta.get("namespace"),
            meta["name"],
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
        )
        result: dict[str, Any] = self._call("PATCH", url, apply_patch_body(body), "application/apply-patch+yaml")
        metrics.record_api_write("apply", obj["kind"])
        self._remember(key, result, content)
        if obj["kind"] in CACHED_KINDS:
            self.cache.put(result)
        return result

    def _unchanged(
        self, key: tuple[str, str, str], content: str, body: dict[str, Any], observed: dict[str, Any]
    ) -> bool:
        """Whether an apply of `body` onto `observed` would change nothing: remembered from this process, or told
        by the stamp on the object (an earlier process applied it) with every field still as applied."""
        with self._applied_lock:
            remembered = self._applied.get(key)
        if remembered == (observed["metadata"].get("uid", ""), content, _marker(observed)):
            return True
        if stamp_of(observed) != content:
            return False  # never applied with a stamp, or from another desired body
        path = first_difference(body, observed)
        if path is None:
            self._remember(key, observed, content)
            return True
        logger.info("re-applying %s %s/%s: %s differs from what was applied", key[0], key[1], key[2], path)
        return False

    def _remember(self, key: tuple[str, str, str], obj: dict[str, Any], content: str) -> None:
        with self._applied_lock:
            self._applied[key] = (obj["metadata"].get("uid", ""), content, _marker(obj))
            self._applied.move_to_end(key)
            while len(self._applied) > APPLIED_MAX:
                self._applied.popitem(last=False)

    def create_if_absent(self, obj: dict[str, Any], field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Create; if the name is taken, return what is there. Atomic by name: never two of one key."""
        meta = obj["metadata"]
        url = self._url(obj["kind"], meta.get("namespace"), query={"fieldManager": field_manager})
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
        finally:
            self.cache.forget((kind, namespace, name))  # gone or going: the next read asks the server
            self.forget_applied(kind, namespace, name)
        metrics.record_api_write("delete", kind)
        return True

    def patch_status(self, kind: str, namespace: str, name: str, new: dict[str, Any], previous: dict[str, Any]) -> None:
        """Merge-patch the status subresource; keys the operator no longer sets are removed, at any depth (a merge
        patch keeps what it does not name: status.weights.resolved.commit would outlive a pin without one)."""
        patch = removals(new, {k: v for k, v in previous.items() if k != "kopf"})
        result = self._call(
            "PATCH",
            self._url(kind, namespace, name, "status"),
            {"status": patch},
            "application/merge-patch+json",
        )
        metrics.record_api_write("patch", kind)
        if kind in CACHED_KINDS and isinstance(result, dict):
            self.cache.put(result)  # the next reconcile compares with this status, not the one before it

    def event(self, involved: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Record a core/v1 Event on an object (what `kubectl describe` shows). Best effort."""
        meta = involved["metadata"]
        now = utc_now()
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
