"""The one quantity parser: exact values for comparisons, whole bytes for sizes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inference_operator.api.quantity import INT64_MAX, to_bytes, value


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("1Gi", Decimal(2**30)),
        ("1024Mi", Decimal(2**30)),
        ("500m", Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        ("8e9", Decimal(8 * 10**9)),
        ("1E", Decimal(10**18)),  # the exa suffix, not an exponent without digits
        ("1E3", Decimal(1000)),
        ("-1k", Decimal(-1000)),
        (" 2 ", Decimal(2)),
        (1073741824, Decimal(2**30)),
        (0.8, Decimal("0.8")),
    ],
)
def test_values(quantity: str | int | float, expected: Decimal) -> None:
    assert value(quantity) == expected


@pytest.mark.parametrize("quantity", ["http", "8 GB", "1e", "Gi", "", "1Gib", True])
def test_what_is_no_quantity(quantity: str | bool) -> None:
    assert value(quantity) is None


def test_a_huge_exponent_is_infinite_not_an_error() -> None:
    assert value("1e99999999999999999999") == Decimal("Infinity")
    assert to_bytes("1e99999999999999999999") == INT64_MAX


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("1Gi", 2**30),
        ("500M", 500 * 10**6),
        ("8e9", 8 * 10**9),
        (1024, 1024),
        ("2Ei", 2**61),
        ("1E", 10**18),
        ("999999999999Ei", INT64_MAX),
    ],
)
def test_sizes_in_bytes(quantity: int | str, expected: int) -> None:
    assert to_bytes(quantity) == expected


def test_bytes_round_up_and_stop_at_int64() -> None:
    assert to_bytes("500m") == 1 and to_bytes(".5Gi") == 2**29
    assert to_bytes("1e400") == INT64_MAX and to_bytes(2**70) == INT64_MAX
    with pytest.raises(ValueError, match="not a quantity: '8 GB'"):
        to_bytes("8 GB")
