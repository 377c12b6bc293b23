"""How long a TensorRT-LLM engine takes to compile, by model size: one table for the build deadline and the cost.

Article's FAQ ("How long does TensorRT compilation take", on H100): 7B 5-10 min, 70B 30-60 min, 200B+ 2+ hours.
We take each range's upper bound, so neither a payback estimate nor a deadline is ever optimistic: up to 13B
10 min, up to 80B 60 min, up to 200B 120 min (the article's "2+ hours" floor), beyond that 120 min per 200B
(405B: 243 min).
"""

from __future__ import annotations

COMPILE_MINUTES_BY_SIZE: tuple[tuple[float, float], ...] = ((13, 10), (80, 60), (200, 120))
COMPILE_MINUTES_PER_200B = 120
COMPILE_MINUTES_UNKNOWN_SIZE = 60  # size not told: a 70B-class compile, the middle of the article's classes


def compile_minutes(parameters_billions: float | None) -> float:
    """Wall-clock minutes of one engine build for a model of this size (the article's H100 upper bounds)."""
    if parameters_billions is None:
        return COMPILE_MINUTES_UNKNOWN_SIZE
    for limit, minutes in COMPILE_MINUTES_BY_SIZE:
        if parameters_billions <= limit:
            return minutes
    return COMPILE_MINUTES_PER_200B * parameters_billions / 200
