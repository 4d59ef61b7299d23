"""Small formatting helpers every report shares: simulated seconds with their unit, counted nouns."""

from __future__ import annotations

import math

__all__ = ["seconds", "plural"]


def seconds(value: float | None) -> str:
    """Simulated seconds to two decimals with their unit, or "-" for none or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.2f}\u00a0s"  # a no-break space keeps number and unit together in a narrow column


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, with an "s" unless the count is one."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
