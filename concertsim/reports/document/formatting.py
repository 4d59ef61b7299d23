"""Small formatting helpers every report shares: simulated seconds with their unit, counted nouns,
values in words."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["seconds", "plural", "value_words"]


def seconds(value: float | None) -> str:
    """Simulated seconds to two decimals with their unit, or "-" for none or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.2f}\u00a0s"  # a no-break space keeps number and unit together in a narrow column


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, with an "s" unless the count is one."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def value_words(value: Any) -> str:
    """A setting's or evidence's value as a reader writes it: yes/no, a list joined by commas, a float
    without trailing zeros, a mapping as JSON."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(value_words(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)
