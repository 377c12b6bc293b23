"""Kubernetes quantities (resource.Quantity: "16Gi", "500m", "8e9", 1024): the operator's one parser. Pure.

The sizes it renders from (render/sizing.py), the weight cache's budget and claims, and the stamped apply's
comparison of a quantity as written with the API server's canonical form (kube/applied.py) all read them here.
"""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation, Overflow

# The number, then a decimal exponent, a binary suffix or a decimal suffix. A sign is accepted, as Kubernetes
# accepts one in what it stores; api/base.py's QUANTITY_PATTERN, which admits what a spec may hold, takes none.
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"([eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_SCALE: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}
INT64_MAX = 2**63 - 1
# Exact arithmetic for any exponent a string can hold; past that (1e99999999999999999999) a quantity is infinite.
_CONTEXT = Context(prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN)


def value(quantity: str | int | float) -> Decimal | None:
    """The quantity's exact value ("1Gi" is 1073741824, "500m" is 0.5), or None when it is not one."""
    if isinstance(quantity, bool):
        return None
    if isinstance(quantity, (int, float)):
        return Decimal(str(quantity))
    match = _QUANTITY.match(quantity.strip())
    if match is None:
        return None
    number, suffix = Decimal(match[1]), match[2] or ""
    if suffix in _SCALE:
        return _CONTEXT.multiply(number, _SCALE[suffix])
    exponent = Decimal(suffix[1:])
    try:
        return _CONTEXT.scaleb(number, _CONTEXT.to_integral_value(exponent))
    except (Overflow, InvalidOperation):
        huge = Decimal("Infinity") if exponent > 0 else Decimal(0)
        return huge.copy_sign(number) if number else Decimal(0)


def to_bytes(quantity: int | str) -> int:
    """Whole bytes of a size (rounded up), at most the int64 Kubernetes itself holds; ValueError if it is no
    quantity."""
    parsed = value(quantity)
    if parsed is None:
        raise ValueError(f"not a quantity: {quantity!r}")
    if parsed >= INT64_MAX:
        return INT64_MAX
    return math.ceil(parsed)
