"""A read model's lag over time, from the lag intervals of its changes (one sweep, no joins).

A lag interval is (changed at, caught up at), the catching up None for a change never caught up
(open until the run's end). For each bin of ``bin_seconds`` from time 0 to the run's end, the
series gives ``peak_pending``, the most changes not yet reflected at any one moment of the bin, and
``oldest_lag_ms``, the greatest lag any change reached within the bin (a change caught up in the
bin counts with its final lag; one still pending at the bin's end with its lag at that moment). A
change caught up the moment it happened is never pending.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["LagInterval", "lag_series", "MAX_BINS"]

LagInterval = tuple[float, float | None]

MAX_BINS = 600
"""Bins are one second wide, or wider for runs longer than this many seconds."""


def lag_series(intervals: list[LagInterval], run_ended_at: float) -> dict[str, Any]:
    """``bin_seconds``, ``peak_pending`` (ints) and ``oldest_lag_ms`` (floats), one value per bin,
    over ``[0, run_ended_at)``."""
    bin_seconds = float(max(1, math.ceil(run_ended_at / MAX_BINS)))
    bins = max(1, math.ceil(run_ended_at / bin_seconds))

    def bin_of(moment: float) -> int:
        return min(int(moment // bin_seconds), bins - 1)

    pending = sorted(((start, end) for start, end in intervals if end is None or end > start), key=lambda i: i[0])
    peak = [0] * bins
    oldest = [0.0] * bins
    # Ends sort before starts at the same moment: a change caught up as another happens does not
    # overlap it.
    steps = sorted([(start, 1) for start, _ in pending] + [(end, -1) for _, end in pending if end is not None])
    current, filled = 0, 0
    for moment, delta in steps:
        at_bin = bin_of(moment)
        while filled < at_bin:
            filled += 1
            peak[filled] = current
        current += delta
        peak[at_bin] = max(peak[at_bin], current)
    while filled < bins - 1:
        filled += 1
        peak[filled] = current

    for start, end in pending:
        if end is not None:
            at_bin = bin_of(end)
            oldest[at_bin] = max(oldest[at_bin], end - start)
    first_open = 0
    for index in range(bins):
        bin_end = min((index + 1) * bin_seconds, run_ended_at)
        while first_open < len(pending) and (end := pending[first_open][1]) is not None and end <= bin_end:
            first_open += 1
        # Changes are sorted by when they happened and one caught up stays so: the first not yet
        # caught up at the bin's end is the oldest pending then, if it had happened by then.
        if first_open < len(pending) and pending[first_open][0] < bin_end:
            oldest[index] = max(oldest[index], bin_end - pending[first_open][0])
    return {
        "bin_seconds": bin_seconds,
        "peak_pending": peak,
        "oldest_lag_ms": [round(value * 1000, 3) for value in oldest],
    }
