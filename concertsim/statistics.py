"""Confidence intervals and significance for results over many seeds (``compare``, ``sweep`` and
``migrate``).

Every interval respects what its quantity can be (:data:`Domain`, declared per headline measure in
:data:`concertsim.metrics.MEASURE_DOMAINS`):

- Rates (a share of runs that broke an invariant) get Wilson score intervals
  (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``), which stay inside [0, 1] and
  are honest for 0 of n.
- Means of a measure, and means of paired differences B − A, get expanded percentile bootstrap
  intervals (``scipy.stats.bootstrap(method="percentile")``, :data:`RESAMPLES` resamples drawn
  from a generator seeded with :data:`BOOTSTRAP_SEED`, so the same values always give the same
  interval). A percentile bootstrap interval of a mean lies within the values' range, so the mean
  of a non-negative measure or of a count never gets a negative bound, as a Student-t interval
  (mean ± t·s/√n) does for a skewed measure over few seeds. Over few seeds a plain percentile
  interval is too narrow, so it is read at a wider level (:func:`expanded_level`, Hesterberg's
  expanded percentile interval). The bounds are also clipped to the measure's :data:`Domain`.
  Significance comes from the tests, never from an interval.

Two designs run on the same seeds are compared pairwise: a rate difference by Fisher's exact test
on the two tables of runs, a measure by the Wilcoxon signed-rank test on the per-seed differences
(no normality assumed). A measure that is a ratio is only comparable when its denominator is large
enough (:func:`thin_denominator`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


class _Stats:
    """``scipy.stats``, imported at its first use: the import takes half a second, which every
    command paid at start-up (``explore`` a sixth of a 300-example search) though only the reports
    that compare runs use it."""

    def __getattr__(self, name: str) -> Any:
        from scipy import stats

        return getattr(stats, name)


stats = _Stats()

__all__ = [
    "Domain",
    "DOMAIN_BOUNDS",
    "Interval",
    "rate_interval",
    "mean_interval",
    "rate_difference_p",
    "paired_difference",
    "smallest_paired_p",
    "thin_denominator",
    "expanded_level",
    "SIGNIFICANCE",
    "RESAMPLES",
    "BOOTSTRAP_SEED",
    "MIN_DENOMINATOR",
    "THIN_SHARE",
    "books_almost_nothing",
]

SIGNIFICANCE = 0.05
"""A difference with a p-value below this is reported as significant."""

RESAMPLES = 9999
"""Bootstrap resamples per interval."""

BOOTSTRAP_SEED = 20240917
"""The seed of every bootstrap's generator: an interval is a function of its values alone."""

MIN_DENOMINATOR = 10.0
"""The fewest events per run (on average over the seeds) a ratio's denominator needs before the
ratio is compared. A count of k independent events varies by about √k (Poisson), so its relative
noise is 1/√k: 32% at 10, 100% at 1. Below 10 a per-booking measure moves by a third or more
with one booking more or less, which is counting noise, not a property of the design."""

THIN_SHARE = 0.1
"""A design books almost nothing when it confirms fewer bookings per run than this share of the
users arriving (and fewer than one): a tenth is far below any sale a design is meant for, so its
measures describe failure rather than the design, and ``compare`` and ``migrate`` say so."""


def books_almost_nothing(bookings_per_run: float, users_arriving: float | None) -> bool:
    """Whether ``bookings_per_run`` is below :data:`THIN_SHARE` of ``users_arriving`` (or below
    one booking when the users are unknown)."""
    return bookings_per_run < max(1.0, THIN_SHARE * (users_arriving or 0.0))


Domain = Literal["non_negative", "count", "proportion", "unbounded"]
"""What a quantity can be: a non-negative real (a latency, a rate per minute, a duration), a count
(a non-negative whole number of users, seats, messages), a proportion (0 to 1), or any real (a
difference B − A)."""

DOMAIN_BOUNDS: dict[str, tuple[float, float]] = {
    "non_negative": (0.0, math.inf),
    "count": (0.0, math.inf),
    "proportion": (0.0, 1.0),
    "unbounded": (-math.inf, math.inf),
}
"""The closed range each :data:`Domain` allows."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval over ``n`` observations, computed by
    ``method`` (``wilson``, ``bootstrap-percentile``, or ``exact`` for a zero-width interval of one
    value or of values all equal)."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    method: str = "exact"

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_json(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n,
                "confidence": self.confidence, "method": self.method}

    def format(self, digits: int = 1, scale: float = 1.0, unit: str = "") -> str:
        """``12.3 [11.0, 13.5]`` (values times ``scale``, then ``unit``)."""
        e, lo, hi = (f"{v * scale:.{digits}f}" for v in (self.estimate, self.low, self.high))
        return f"{e}{unit} [{lo}, {hi}]"


def rate_interval(hits: int, trials: int, confidence: float = 0.95) -> Interval | None:
    """The Wilson score interval of ``hits`` in ``trials``; None for no trials."""
    if trials <= 0:
        return None
    ci = stats.binomtest(hits, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(hits / trials, float(ci.low), float(ci.high), trials, confidence, "wilson")


def mean_interval(
    values: Sequence[float | None], confidence: float = 0.95, domain: Domain = "unbounded"
) -> Interval | None:
    """The mean of ``values`` (None and non-finite values left out) with its percentile bootstrap
    interval, inside ``domain``'s bounds; None for no values. One value, or values all equal,
    give a zero-width interval."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    low_bound, high_bound = DOMAIN_BOUNDS[domain]
    n, mean = len(finite), sum(finite) / len(finite)
    mean = min(max(mean, low_bound), high_bound)
    if n == 1 or min(finite) == max(finite):
        return Interval(mean, mean, mean, n, confidence)
    result = stats.bootstrap((np.asarray(finite),), np.mean, confidence_level=expanded_level(confidence, n),
                             n_resamples=RESAMPLES, method="percentile",
                             rng=np.random.default_rng(BOOTSTRAP_SEED))
    low = min(max(float(result.confidence_interval.low), low_bound), mean)
    high = max(min(float(result.confidence_interval.high), high_bound), mean)
    return Interval(mean, low, high, n, confidence, "bootstrap-expanded-percentile")


def expanded_level(confidence: float, n: int) -> float:
    """The level at which to read a percentile bootstrap of the mean of ``n`` values so that it
    is as wide as it should be at ``confidence`` (Hesterberg's expanded percentile interval): the
    plain percentile interval is too narrow for small ``n`` (by about sqrt((n-1)/n), and by using
    normal rather than t quantiles), so it is read at ``1 - 2·Φ(-sqrt(n/(n-1))·t(1-α/2, n-1))``."""
    alpha = 1.0 - confidence
    z = math.sqrt(n / (n - 1)) * float(stats.t.ppf(1.0 - alpha / 2.0, n - 1))
    return 1.0 - 2.0 * float(stats.norm.sf(z))


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
    """The mean of ``b[i] - a[i]`` over the pairs where both are known, with its percentile
    bootstrap interval (unbounded: B − A may be negative), and the two-sided Wilcoxon signed-rank
    p-value that the differences centre on zero (1.0 when every difference is zero or there are
    none)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    differences = [y - x for x, y in pairs]
    interval = mean_interval(differences, confidence, "unbounded")
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


def thin_denominator(denominators: Sequence[float | None]) -> float | None:
    """The mean per-run denominator of a ratio when it is below :data:`MIN_DENOMINATOR` (the
    ratio is then counting noise and is not compared), else None. No runs count as thin (0.0)."""
    known = [float(d) for d in denominators if d is not None and math.isfinite(d)]
    mean = sum(known) / len(known) if known else 0.0
    return mean if mean < MIN_DENOMINATOR else None
