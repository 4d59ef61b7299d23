"""One invariant and one headline measure compared across two designs: each side's rate or mean,
the test between them, and how a measure is shown (its title, unit and which way is better).

:mod:`concertsim.comparison` makes these from two sides' runs (:func:`~concertsim.comparison.judge`)
and gathers them into a :class:`~concertsim.comparison.Comparison`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from concertsim.statistics import SIGNIFICANCE, Interval
from concertsim.sweep.aggregate import InvariantRate

__all__ = ["Better", "MeasureKind", "MEASURE_KINDS", "measure_kind", "RateOnSide", "InvariantComparison", "MeasureComparison"]

Better = Literal["lower", "higher"]
"""Which way of a measure is better."""


@dataclass(frozen=True)
class MeasureKind:
    """How a headline measure is shown: a short ``title``, its ``unit``, and which way is better
    (None where neither is, e.g. how many users arrived)."""

    title: str
    unit: str
    better: Better | None


MEASURE_KINDS: dict[str, MeasureKind] = {
    "latency_p50_ms": MeasureKind("latency p50", "ms", "lower"),
    "latency_p95_ms": MeasureKind("latency p95", "ms", "lower"),
    "latency_p99_ms": MeasureKind("latency p99", "ms", "lower"),
    "pay_p95_ms": MeasureKind("payment latency p95", "ms", "lower"),
    "confirmed_per_minute": MeasureKind("throughput", "confirmed/min", "higher"),
    "time_to_convergence_s": MeasureKind("time to convergence", "s", "lower"),
    "messages_per_booking": MeasureKind("messages per booking", "messages", "lower"),
    "funnel_arrived": MeasureKind("users arrived", "users", None),
    "funnel_admitted": MeasureKind("users admitted", "users", "higher"),
    "funnel_held": MeasureKind("users who held a seat", "users", "higher"),
    "funnel_paid": MeasureKind("users who paid", "users", "higher"),
    "funnel_confirmed": MeasureKind("users confirmed", "users", "higher"),
    "funnel_abandoned": MeasureKind("users who abandoned a hold", "users", "lower"),
    "funnel_unsold_seats": MeasureKind("seats unsold", "seats", "lower"),
}


def measure_kind(name: str) -> MeasureKind:
    """How ``name`` is shown (a plain title, no unit, neither way better for a measure unknown
    here)."""
    return MEASURE_KINDS.get(name, MeasureKind(name.replace("_", " "), "", None))


RateOnSide = InvariantRate
"""How often one side broke an invariant: a sweep's rate of it over the side's seeds (the seeds
that broke it, of the runs that judged it; not applicable on that side when none judged it)."""


@dataclass(frozen=True)
class InvariantComparison:
    """One invariant on both sides (None on a side whose scenario does not check it)."""

    id: str
    kind: str
    promise: str
    a: RateOnSide | None
    b: RateOnSide | None
    p_value: float | None
    """Fisher's exact test of equal rates (None unless some seed of each side judged it)."""

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANCE

    @property
    def worse(self) -> Literal["a", "b"] | None:
        """The side that broke it significantly more often."""
        if not self.significant or self.a is None or self.b is None:
            return None
        return "b" if len(self.b.broken_seeds) > len(self.a.broken_seeds) else "a"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "promise": self.promise,
                "a": self.a.to_json() if self.a else None, "b": self.b.to_json() if self.b else None,
                "p_value": self.p_value, "significant": self.significant, "worse": self.worse}


@dataclass(frozen=True)
class MeasureComparison:
    """One headline measure: each side's mean and the paired difference B − A over the seeds
    where both have a value (``pairs``), with the signed-rank test's p-value. ``not_compared``
    says why a measure is shown but never significant (a ratio over too few events)."""

    name: str
    description: str
    a: Interval | None
    b: Interval | None
    difference: Interval | None
    p_value: float
    pairs: int
    not_compared: str | None = None

    @property
    def kind(self) -> MeasureKind:
        return measure_kind(self.name)

    @property
    def significant(self) -> bool:
        return self.not_compared is None and self.difference is not None and self.p_value < SIGNIFICANCE

    @property
    def interval_excludes_zero(self) -> bool:
        """Whether the interval of B − A lies wholly on one side of zero (a hint, not the test;
        never for a measure not compared)."""
        d = self.difference
        return self.not_compared is None and d is not None and (d.low > 0 or d.high < 0)

    @property
    def favours(self) -> Literal["a", "b"] | None:
        """The side a significant difference favours (None if not significant or neither way is
        better)."""
        better = self.kind.better
        if not self.significant or better is None or self.difference is None or self.difference.estimate == 0:
            return None
        b_higher = self.difference.estimate > 0
        return "b" if b_higher == (better == "higher") else "a"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "unit": self.kind.unit,
                "better": self.kind.better,
                "a": _interval_json(self.a), "b": _interval_json(self.b),
                "difference": _interval_json(self.difference), "pairs": self.pairs,
                "p_value": self.p_value, "significant": self.significant, "favours": self.favours,
                "not_compared": self.not_compared}


def _interval_json(interval: Interval | None) -> dict[str, Any] | None:
    return None if interval is None else interval.to_json()
