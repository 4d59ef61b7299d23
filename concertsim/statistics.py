"""Confidence intervals and significance for results over many seeds (``compare`` and ``sweep``).

Rates (a share of runs that broke an invariant) get Wilson score intervals, which stay inside
[0, 1] and are honest for 0 of n; means get Student-t intervals. Two designs run on the same seeds
are compared pairwise: a rate difference by Fisher's exact test on the two tables of runs, a
measure by the Wilcoxon signed-rank test on the per-seed differences (no normality assumed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats

__all__ = [
    "Interval",
    "rate_interval",
    "mean_interval",
    "rate_difference_p",
    "paired_difference",
    "smallest_paired_p",
    "SIGNIFICANCE",
]

SIGNIFICANCE = 0.05
"""A difference with a p-value below this is reported as significant."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval over ``n`` observations."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_json(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n,
                "confidence": self.confidence}

    def format(self, digits: int = 1, scale: float = 1.0, unit: str = "") -> str:
        """``12.3 [11.0, 13.5]`` (values times ``scale``, then ``unit``)."""
        e, lo, hi = (f"{v * scale:.{digits}f}" for v in (self.estimate, self.low, self.high))
        return f"{e}{unit} [{lo}, {hi}]"


def rate_interval(hits: int, trials: int, confidence: float = 0.95) -> Interval | None:
    """The Wilson score interval of ``hits`` in ``trials``; None for no trials."""
    if trials <= 0:
        return None
    ci = stats.binomtest(hits, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(hits / trials, float(ci.low), float(ci.high), trials, confidence)


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval | None:
    """The mean of ``values`` with its Student-t interval; None for no values. One value, or
    values all equal, give a zero-width interval."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    n, mean = len(finite), sum(finite) / len(finite)
    if n == 1:
        return Interval(mean, mean, mean, 1, confidence)
    sem = stats.sem(finite)
    if sem == 0 or not math.isfinite(sem):
        return Interval(mean, mean, mean, n, confidence)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), n, confidence)


def rate_difference_p(hits_a: int, trials_a: int, hits_b: int, trials_b: int) -> float:
    """The two-sided p-value of Fisher's exact test that two rates are equal (1.0 when either
    side has no trials)."""
    if trials_a <= 0 or trials_b <= 0:
        return 1.0
    table = [[hits_a, trials_a - hits_a], [hits_b, trials_b - hits_b]]
    return float(stats.fisher_exact(table).pvalue)


def paired_difference(
    a: Sequence[float | None], b: Sequence[float | None], confidence: float = 0.95
) -> tuple[Interval | None, float]:
    """The mean of ``b[i] - a[i]`` over the pairs where both are known, with its t interval, and
    the two-sided Wilcoxon signed-rank p-value that the differences centre on zero (1.0 when
    every difference is zero or there are none)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    differences = [y - x for x, y in pairs]
    interval = mean_interval(differences, confidence)
    if not differences or all(d == 0 for d in differences):
        return interval, 1.0
    return interval, float(stats.wilcoxon(differences, zero_method="zsplit").pvalue)


def smallest_paired_p(pairs: int) -> float:
    """The smallest two-sided p-value the signed-rank test of :func:`paired_difference` can give
    over ``pairs`` non-zero differences: every difference of one sign, ``2 / 2**pairs`` under the
    exact distribution (1.0 for no pairs). Below 6 pairs it is above :data:`SIGNIFICANCE`, so no
    difference of a measure can be significant however large it is."""
    if pairs <= 0:
        return 1.0
    return min(1.0, 2.0 / 2**pairs)
