"""Percentiles and the summary of a distribution of durations, as the metrics report them."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["percentile", "summarize_ms"]


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize_ms(
    seconds: Iterable[float], quantiles: tuple[int, ...] = (50, 95, 99)
) -> dict[str, float | int | None]:
    """``count``, each ``p<q>_ms`` and ``max_ms`` of durations given in seconds, in milliseconds
    rounded to the microsecond; None for each but the count when there are no values (so the
    result stays valid JSON)."""
    values = sorted(seconds)
    summary: dict[str, float | int | None] = {"count": len(values)}
    for q in quantiles:
        summary[f"p{q}_ms"] = round(percentile(values, q) * 1000, 3) if values else None
    summary["max_ms"] = round(values[-1] * 1000, 3) if values else None
    return summary
