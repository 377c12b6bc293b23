"""What the operator applied, written on the object itself, so that a restarted process need not apply it again.

Every server-side apply carries `inference-operator.dev/applied: <digest of the desired body>`. A later apply of
the same desired body is skipped when the live object (as the reconcile read it) carries that digest and still
holds every field of the body with the same value: the digest stands for the fields the operator no longer sets
(an apply would remove them), the comparison for a change someone else made since (an apply puts it right).
Pure: no I/O.

The comparison allows for what the API server does to an applied body: fields it defaults are extra (a subset is
asked for), quantities are compared by value ("1024Mi" is stored as "1Gi", 2 as "2"), and empty maps, lists,
strings and nulls may be dropped. Anything else that differs is a difference, and the apply goes ahead (one
write, never a missed correction).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from ..api.labels import ANNOTATION_APPLIED
from ..api.quantity import value as quantity_value

# Maps whose values are resource quantities (resources.limits/requests, a quota's hard, a PVC's storage request).
_QUANTITY_MAPS = frozenset({"limits", "requests", "hard", "capacity"})
# Keys whose value is one quantity (an HPA's target: 0.8 is stored as "800m").
_QUANTITY_KEYS = frozenset({"sizeLimit", "storage", "averageValue"})


def digest(obj: dict[str, Any]) -> str:
    """A short digest of the canonical JSON of a desired body (key order does not count)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def stamped(obj: dict[str, Any], content: str) -> dict[str, Any]:
    """The body to apply: the desired one with its digest in the annotation."""
    out = copy.copy(obj)
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = {**(meta.get("annotations") or {}), ANNOTATION_APPLIED: content}
    out["metadata"] = meta
    return out


def stamp_of(obj: dict[str, Any]) -> str | None:
    """The digest an object (or a body to apply) carries, if any."""
    stamp = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_APPLIED)
    return stamp if isinstance(stamp, str) else None


def first_difference(desired: Any, live: Any, path: str = "", quantity: bool = False) -> str | None:
    """The path of the first field of `desired` that `live` lacks or holds another value of; None: all held."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return path or "."
        for key, value in desired.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in live:
                if _empty(value):
                    continue  # the API server drops an empty value of an omitempty field
                return where
            # Below a map of quantities (or at a quantity's key) values compare as quantities.
            inner = quantity or key in _QUANTITY_MAPS or key in _QUANTITY_KEYS
            found = first_difference(value, live[key], where, inner)
            if found is not None:
                return found
        return None
    if isinstance(desired, list):
        # Same length, same order: an entry someone else added (a co-owned list) costs one apply, no more.
        if not isinstance(live, list) or len(live) != len(desired):
            return path
        for index, (want, have) in enumerate(zip(desired, live, strict=True)):
            found = first_difference(want, have, f"{path}[{index}]", quantity)
            if found is not None:
                return found
        return None
    return None if _same_scalar(desired, live, quantity) else path


def _empty(value: Any) -> bool:
    return value is None or value in ({}, [], "")


def _same_scalar(desired: Any, live: Any, quantity: bool) -> bool:
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    numbers = isinstance(desired, (int, float)) and isinstance(live, (int, float))
    if (numbers or type(desired) is type(live)) and desired == live:
        return True
    if quantity and isinstance(desired, (str, int, float)) and isinstance(live, (str, int, float)):
        want = quantity_value(desired)
        return want is not None and want == quantity_value(live)
    return False
