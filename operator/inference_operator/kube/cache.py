"""The latest body of each object the operator watches or writes, so that a reconcile reads memory, not the API.

Fed by kopf's watch events (runtime/handlers.py), by the responses to the operator's own writes and reads
(kube/client.py), and at start by one listing of each watched child kind (`Kube.prime`), read by `Kube.get`. An
entry can say "absent" (a 404, a DELETED event); a key never seen is a miss, and the API server is asked, unless
the key's kind and namespace were listed (`listed`): then a key the listing did not hold, and no event or write
told of since, is absent without a request. A key the operator let go of (`forget`: it deleted the object, which
may still be terminating) is a miss again either way. Pure data and a lock, no I/O.

Bodies are kept as compact JSON: a fifth of the memory of the parsed dicts (which matters at a thousand
resources), and every read gets its own copy, so no caller can change what the next one reads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str, str]  # kind, namespace, name
# (resourceVersion as a number or None, the body as JSON or None when the object is known to be absent)
Entry = tuple[int | None, bytes | None]


def _version(obj: dict[str, Any]) -> int | None:
    """The resourceVersion as a number, to keep the newer of two bodies; None when it is not one."""
    raw = str((obj.get("metadata") or {}).get("resourceVersion", ""))
    return int(raw) if raw.isdigit() else None


def _encode(obj: dict[str, Any]) -> bytes:
    """Compact JSON of the body without managedFields, which nothing reads."""
    meta = obj.get("metadata") or {}
    if "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return json.dumps(obj, separators=(",", ":")).encode()


def _decode(entry: Entry | None) -> dict[str, Any] | None:
    if entry is None or entry[1] is None:
        return None
    body: dict[str, Any] = json.loads(entry[1])
    return body


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"])


@dataclass
class ObjectCache:
    """Bodies by (kind, namespace, name); a newer resourceVersion replaces an older one, never the reverse."""

    _entries: dict[Key, Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # kind -> which namespaces a complete listing of it covers (Kube.prime), and the keys to ask the server for
    # even so (forgotten ones).
    _listed: dict[str, Callable[[str], bool]] = field(default_factory=dict)
    _ask: set[Key] = field(default_factory=set)

    def lookup(self, key: Key) -> tuple[bool, dict[str, Any] | None]:
        """(known, body): known False is a miss; known with body None is an object known to be absent."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                covers = self._listed.get(key[0])
                return (covers is not None and key not in self._ask and covers(key[1])), None
        return True, _decode(entry)

    def listed(self, kind: str, covers: Callable[[str], bool]) -> None:
        """Every object of `kind` in the namespaces `covers` accepts is in the cache (a complete listing was put,
        and the watch keeps it current from there): a key not in it is absent."""
        with self._lock:
            self._listed[kind] = covers

    def put(self, obj: dict[str, Any]) -> None:
        """Remember a body (a response to a read or a write) unless a newer one is known."""
        self._store(key_of(obj), (_version(obj), _encode(obj)))

    def swap(self, obj: dict[str, Any], deleted: bool = False) -> dict[str, Any] | None:
        """A watch event: remember its body (or that it was deleted); returns the body known before, if any."""
        entry = (_version(obj), None if deleted else _encode(obj))
        return _decode(self._store(key_of(obj), entry))

    def missing(self, key: Key) -> None:
        """A 404: absent, unless a watch event told of the object meanwhile (that is newer than the GET)."""
        with self._lock:
            self._ask.discard(key)
            self._entries.setdefault(key, (None, None))

    def forget(self, key: Key) -> None:
        """The next read of the key asks the API server (a listing of its kind notwithstanding)."""
        with self._lock:
            self._entries.pop(key, None)
            if key[0] in self._listed:
                self._ask.add(key)

    def _store(self, key: Key, entry: Entry) -> Entry | None:
        with self._lock:
            self._ask.discard(key)
            before = self._entries.get(key)
            # resourceVersions are opaque to clients in general, but one API server's are etcd revisions: a
            # watch event delivered after the response to our own write must not put the older body back.
            old, new = (before[0] if before else None), entry[0]
            if old is None or new is None or new >= old:
                self._entries[key] = entry
        return before

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
