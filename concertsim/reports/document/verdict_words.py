"""A run's verdicts in one phrase, the same in the terminal, the reports and notebooks: how many
invariants hold, which were violated, and which could not be judged (not applicable), so that a
reader never takes a promise that was not judged for one that was kept."""

from __future__ import annotations

from collections.abc import Sequence

from concertsim.checks.base import Verdict
from concertsim.reports.document.formatting import plural

__all__ = ["verdict_counts", "not_applicable_list"]


def not_applicable_list(verdicts: Sequence[Verdict]) -> str:
    """``a, b`` (the invariants not applicable, by id), or '' when every one was judged."""
    return ", ".join(v.invariant.id for v in verdicts if v.not_applicable is not None)


def verdict_counts(verdicts: Sequence[Verdict]) -> str:
    """``18 invariants hold, 3 not applicable (a, b, c)``, with ``2 violated`` first when some were:
    every count that is not zero, the not applicable ones named."""
    held = sum(1 for v in verdicts if v.holds)
    broken = sum(1 for v in verdicts if v.violated)
    unjudged = not_applicable_list(verdicts)
    parts = []
    if broken:
        parts.append(f"{broken} violated")
    if held or not (broken or unjudged):
        parts.append(f"{plural(held, 'invariant') if not broken else held} hold{'s' if held == 1 else ''}")
    if unjudged:
        parts.append(f"{unjudged.count(', ') + 1} not applicable ({unjudged})")
    if broken:
        parts[0] = f"{plural(broken, 'invariant')} violated"
    return ", ".join(parts)
