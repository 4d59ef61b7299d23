"""Comparing two designs over the same seeds: which promises each breaks how often, and how their
headline measures differ, with confidence intervals and significance.

:func:`concertsim.comparison_plan.plan_comparison` resolves the two sides and fixes what they share
(the seeds, the fault schedule); :func:`run_comparison` runs each side over those seeds with
:func:`concertsim.sweep.sweep` and :func:`judge` judges the pair; :func:`compare` does all three.

Per invariant, each side's violation rate gets a Wilson interval and the two rates Fisher's exact
test; per measure (:data:`concertsim.metrics.MEASURES`), each side's mean gets a percentile
bootstrap interval inside what the measure can be (:data:`concertsim.metrics.MEASURE_DOMAINS`), and
the per-seed differences B − A a bootstrap interval and the Wilcoxon signed-rank test. A difference
is significant when its p-value is below :data:`concertsim.statistics.SIGNIFICANCE`, and never for
a ratio over too few events on a side (:func:`concertsim.statistics.thin_denominator`, e.g. messages
per booking over about one booking per seed). A side that books almost nothing leaves every measure
out of the verdict (:meth:`Comparison.thin_sides`): its latencies and counts describe a sale that did
not happen. One invariant or measure compared is a :mod:`concertsim.comparison_verdicts` record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from concertsim.checks import REGISTRY
from concertsim.cluster import DEFAULT_CONNECT_TIMEOUT
from concertsim.comparison_plan import (
    FAULT_POLICIES,
    ComparisonError,
    ComparisonPlan,
    FaultPolicy,
    Side,
    plan_comparison,
)
from concertsim.comparison_verdicts import (
    MEASURE_KINDS,
    InvariantComparison,
    MeasureComparison,
    MeasureKind,
    RateOnSide,
    measure_kind,
)
from concertsim.metrics import MEASURE_DOMAINS, MEASURES, RATIO_DENOMINATORS
from concertsim.scenarios.schema import INVARIANT_IDS, Scenario
from concertsim.statistics import (
    MIN_DENOMINATOR,
    SIGNIFICANCE,
    books_almost_nothing,
    mean_interval,
    paired_difference,
    rate_difference_p,
    smallest_paired_p,
    thin_denominator,
)
from concertsim.sweep import SeedResult, SweepResult, sweep
from concertsim.sweep.aggregate import invariant_rate

__all__ = [
    "Comparison",
    "judge",
    "run_comparison",
    "compare",
    # from concertsim.comparison_verdicts, for one import
    "MeasureKind",
    "MEASURE_KINDS",
    "measure_kind",
    "RateOnSide",
    "InvariantComparison",
    "MeasureComparison",
    # from concertsim.comparison_plan, likewise
    "FaultPolicy",
    "FAULT_POLICIES",
    "ComparisonError",
    "ComparisonPlan",
    "Side",
    "plan_comparison",
]

def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Comparison:
    """Two sides run over the same seeds, and the judgement of every invariant and measure."""

    plan: ComparisonPlan
    a_runs: SweepResult
    b_runs: SweepResult
    invariants: tuple[InvariantComparison, ...]
    measures: tuple[MeasureComparison, ...]

    @property
    def holds(self) -> bool:
        """Neither side broke an invariant in any seed."""
        return self.a_runs.holds and self.b_runs.holds

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.plan.seeds

    def not_applicable(self) -> dict[str, str]:
        """The invariants that no seed could judge on a side that checks them: id -> which side(s)
        and why (``A and B: <reason>``, ``B: <reason>``)."""
        found = {}
        for invariant in self.invariants:
            sides = [(key.upper(), side) for key, side in (("a", invariant.a), ("b", invariant.b))
                     if side is not None and not side.applicable]
            if not sides:
                continue
            reasons = dict.fromkeys(side.reason for _, side in sides)
            if len(sides) == 2 and len(reasons) == 1:
                found[invariant.id] = f"A and B: {sides[0][1].reason}"
            else:
                found[invariant.id] = "; ".join(f"{key}: {side.reason}" for key, side in sides)
        return found

    def bookings_per_seed(self) -> dict[str, float]:
        """Each side's mean confirmed bookings per seed (``a``, ``b``)."""
        return {key: sum(s.confirmed for s in runs.seeds) / len(runs.seeds) if runs.seeds else 0.0
                for key, runs in (("a", self.a_runs), ("b", self.b_runs))}

    def thin_sides(self) -> str | None:
        """Which side books almost nothing: fewer confirmed bookings per seed, on average, than
        :data:`~concertsim.statistics.THIN_SHARE` of the users arriving (and fewer than one booking when no user's
        arrival is known), as ``A and B confirm 0.5 bookings per seed (of 20 users arriving)``;
        None when both book. The measures of such a side describe a sale that did not happen, so
        the verdict then rests on the invariants alone."""
        booked = self.bookings_per_seed()
        arriving: dict[str, float | None] = {}
        for key, runs in (("a", self.a_runs), ("b", self.b_runs)):
            known = [u for s in runs.seeds if (u := s.measures.get("funnel_arrived")) is not None]
            arriving[key] = sum(known) / len(known) if known else None
        thin = [key for key in ("a", "b") if books_almost_nothing(booked[key], arriving[key])]
        if not thin:
            return None

        def of_users(key: str) -> str:
            users = arriving[key]
            return f" (of {users:.3g} users arriving)" if users is not None else ""

        if len(thin) == 2 and f"{booked['a']:.2g}{of_users('a')}" == f"{booked['b']:.2g}{of_users('b')}":
            return f"A and B confirm {booked['a']:.2g} bookings per seed{of_users('a')}"
        return " and ".join(f"{key.upper()} confirms {booked[key]:.2g} bookings per seed{of_users(key)}"
                            for key in thin)

    def grounds(self) -> str:
        """What the verdict rests on: the invariants that differ significantly, with their counts
        and Fisher p-values, the measures it used, and the measures it left out and why."""
        parts = []
        for invariant in self.invariants:
            if not invariant.significant or invariant.a is None or invariant.b is None:
                continue
            worse, other = (invariant.b, invariant.a) if invariant.worse == "b" else (invariant.a, invariant.b)
            key, other_key = ("B", "A") if invariant.worse == "b" else ("A", "B")
            parts.append(f"{key} breaks {invariant.id} in {len(worse.broken_seeds)} of {worse.runs} seeds, "
                         f"{other_key} in {len(other.broken_seeds)} of {other.runs} (Fisher p = "
                         f"{invariant.p_value:.2g})")
        thin = self.thin_sides()
        if thin is None:
            for measure in self.significant_measures():
                d = measure.difference
                assert d is not None
                low, estimate, high = (f"{v:+.3g}".replace("-", "−") for v in (d.low, d.estimate, d.high))
                parts.append(f"{measure.kind.title} B − A {estimate} [{low}, {high}] {measure.kind.unit} per "
                             f"seed (signed-rank p = {measure.p_value:.2g})")
        if not parts:
            parts.append("no invariant or measure differs significantly")
        text = "Rests on: " + "; ".join(parts)
        if thin is not None:
            text += f". Measures not compared: {thin}"
        else:
            left_out = [f"{m.kind.title} ({m.not_compared})" for m in self.measures if m.not_compared]
            if left_out:
                text += f". Not compared: {_join(left_out)}"
        return text + "."

    def significant_invariants(self) -> list[InvariantComparison]:
        return [i for i in self.invariants if i.significant]

    def significant_measures(self) -> list[MeasureComparison]:
        """The measures that differ significantly (none when a side books almost nothing)."""
        if self.thin_sides() is not None:
            return []
        return [m for m in self.measures if m.significant]

    def power_note(self) -> str | None:
        """What the number of seeds cannot show (None when it can show a significant difference
        of both rates and measures)."""
        n = len(self.seeds)
        paired_floor = smallest_paired_p(n)
        rate_floor = rate_difference_p(0, n, n, n)
        if paired_floor < SIGNIFICANCE and rate_floor < SIGNIFICANCE:
            return None
        parts = []
        if paired_floor >= SIGNIFICANCE:
            parts.append(f"no measure difference can be significant (the signed-rank test's smallest "
                         f"p-value over {n} seeds is {paired_floor:.3g})")
        if rate_floor >= SIGNIFICANCE:
            parts.append("no invariant rate difference can be significant (even 0 of "
                         f"{n} against {n} of {n} gives p = {rate_floor:.3g})")
        enough = next(k for k in range(n + 1, 64) if smallest_paired_p(k) < SIGNIFICANCE
                      and rate_difference_p(0, k, k, k) < SIGNIFICANCE)
        return f"With {n} seed{'s' if n != 1 else ''}, " + " and ".join(parts) + f"; use --seeds {enough} or more."

    def verdict(self) -> str:
        """One sentence: which side to prefer and on what grounds, or that nothing differs."""
        a, b = self.plan.a.label, self.plan.b.label
        worse_b = [i.id for i in self.invariants if i.worse == "b"]
        worse_a = [i.id for i in self.invariants if i.worse == "a"]
        compared = self.significant_measures()
        for_b = [m.kind.title for m in compared if m.favours == "b"]
        for_a = [m.kind.title for m in compared if m.favours == "a"]
        if worse_b and not worse_a:
            though = f", although B is significantly better on {_join(for_b)}" if for_b else ""
            return f"Prefer A ({a}): B breaks {_join(worse_b)} significantly more often{though}."
        if worse_a and not worse_b:
            though = f", although A is significantly better on {_join(for_a)}" if for_a else ""
            return f"Prefer B ({b}): A breaks {_join(worse_a)} significantly more often{though}."
        if worse_a and worse_b:
            return (f"Neither side dominates: A breaks {_join(worse_a)} more often, "
                    f"B breaks {_join(worse_b)} more often.")
        tail = "" if self.holds else " Invariants were broken, at rates that do not differ significantly."
        if for_b and not for_a:
            return f"Prefer B ({b}): no invariant differs, and B is significantly better on {_join(for_b)}.{tail}"
        if for_a and not for_b:
            return f"Prefer A ({a}): no invariant differs, and A is significantly better on {_join(for_a)}.{tail}"
        if for_a and for_b:
            return (f"A trade-off: no invariant differs; B is significantly better on {_join(for_b)} and "
                    f"worse on {_join(for_a)}.{tail}")
        others = [m.kind.title for m in self.significant_measures()]
        if others:
            return f"No invariant differs; {_join(others)} differ significantly, neither way better.{tail}"
        n = len(self.seeds)
        verdict = f"No significant difference between A and B over {n} seed{'s' if n != 1 else ''}"
        if smallest_paired_p(n) < SIGNIFICANCE:
            return f"{verdict}.{tail}"
        apart = ([m.kind.title for m in self.measures if m.interval_excludes_zero]
                 if self.thin_sides() is None else [])
        verdict += ", too few for the signed-rank test to show a measure's difference"
        if apart:
            verdict += (f"; the 95% interval of B − A excludes zero for {_join(apart)}: run more seeds "
                        "to test them")
        return f"{verdict}.{tail}"

    def _repr_html_(self) -> str:
        """The verdict, the invariants either side broke and the measures, for notebooks."""
        from concertsim.reports.exports.notebook import comparison_html

        return comparison_html(self)

    def frame(self) -> Any:
        """Every run of both sides as a pandas DataFrame (:func:`concertsim.frames.comparison_frame`)."""
        from concertsim.frames import comparison_frame

        return comparison_frame(self)

    def to_json(self) -> dict[str, Any]:
        by_seed = {s.seed: s for s in self.a_runs.seeds}, {s.seed: s for s in self.b_runs.seeds}
        return {
            "a": _side_json(self.plan.a, self.a_runs),
            "b": _side_json(self.plan.b, self.b_runs),
            "seeds": list(self.seeds),
            "seed_note": self.plan.seed_note,
            "faults": {"policy": self.plan.fault_policy, "meaning": FAULT_POLICIES[self.plan.fault_policy],
                       "note": self.plan.fault_note},
            "differences": [{"field": d.field, "a": d.a, "b": d.b} for d in self.plan.differences],
            "significance": SIGNIFICANCE,
            "holds": self.holds,
            "not_applicable": self.not_applicable(),
            "verdict": self.verdict(),
            "grounds": self.grounds(),
            "bookings_per_seed": self.bookings_per_seed(),
            "thin_sides": self.thin_sides(),
            "power_note": self.power_note(),
            "invariants": [i.to_json() for i in self.invariants],
            "measures": [m.to_json() for m in self.measures],
            "runs": [{"seed": seed, "a": _run_json(by_seed[0].get(seed)), "b": _run_json(by_seed[1].get(seed))}
                     for seed in self.seeds],
        }


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _side_json(side: Side, runs: SweepResult) -> dict[str, Any]:
    return {"label": side.label, "spec": side.spec, "scenario": side.scenario.name,
            "overrides": list(side.overrides), "shared_overrides": list(side.shared),
            "design": side.scenario.design.model_dump(mode="json"),
            "faults": [f.model_dump(mode="json", exclude_defaults=True) for f in side.scenario.faults],
            "faults_replaced": side.faults_replaced, "holds": runs.holds,
            "violations_by_invariant": runs.violations_by_invariant(),
            "not_applicable": runs.not_applicable()}


def _run_json(result: SeedResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"trace_sha256": result.trace_sha256, "violated": list(result.violated),
            "first_violations": list(result.first_violations), "not_applicable": dict(result.not_applicable),
            "measures": {k: _finite(v) for k, v in result.measures.items()}}


def judge(plan: ComparisonPlan, a_runs: SweepResult, b_runs: SweepResult) -> Comparison:
    """Compare two sides' runs of ``plan.seeds``: every invariant either side checks, in the order
    of ``INVARIANT_IDS``, and every measure of ``MEASURES``, paired by seed."""
    runs = {"a": {s.seed: s for s in a_runs.seeds}, "b": {s.seed: s for s in b_runs.seeds}}
    for key in runs:
        if sorted(runs[key]) != list(plan.seeds):
            raise ValueError(f"side {key.upper()} ran seeds {sorted(runs[key])}, not {list(plan.seeds)}")
    checked = {key: set(side.scenario.enabled_checks()) for key, side in (("a", plan.a), ("b", plan.b))}

    def rate(key: str, invariant: str) -> RateOnSide | None:
        return invariant_rate(invariant, runs[key].values()) if invariant in checked[key] else None

    invariants = []
    for invariant in INVARIANT_IDS:
        if invariant not in checked["a"] | checked["b"]:
            continue
        on_a, on_b = rate("a", invariant), rate("b", invariant)
        p = None if on_a is None or on_b is None or not on_a.applicable or not on_b.applicable else rate_difference_p(
            len(on_a.broken_seeds), on_a.runs, len(on_b.broken_seeds), on_b.runs)
        definition = REGISTRY[invariant]
        invariants.append(InvariantComparison(invariant, definition.kind, definition.promise, on_a, on_b, p))

    measures = []
    for name, description in MEASURES.items():
        values_a = [_finite(runs["a"][seed].measures.get(name)) for seed in plan.seeds]
        values_b = [_finite(runs["b"][seed].measures.get(name)) for seed in plan.seeds]
        difference, p = paired_difference(values_a, values_b)
        pairs = sum(1 for x, y in zip(values_a, values_b, strict=True) if x is not None and y is not None)
        domain = MEASURE_DOMAINS.get(name, "unbounded")
        measures.append(MeasureComparison(
            name, description, mean_interval(values_a, domain=domain), mean_interval(values_b, domain=domain),
            difference, p, pairs, _not_compared(name, runs, plan.seeds)))
    return Comparison(plan, a_runs, b_runs, tuple(invariants), tuple(measures))


def _not_compared(name: str, runs: dict[str, dict[int, SeedResult]], seeds: Sequence[int]) -> str | None:
    """Why a ratio measure is not compared (its denominator is below :data:`MIN_DENOMINATOR` per
    seed on a side), or None."""
    per = RATIO_DENOMINATORS.get(name)
    if per is None:
        return None
    thin = {key: thin_denominator([runs[key][seed].confirmed for seed in seeds]) for key in ("a", "b")}
    low = [f"{key.upper()} {value:.2g}" for key, value in thin.items() if value is not None]
    if not low:
        return None
    return f"over {' and '.join(low)} {per} per seed, under {MIN_DENOMINATOR:g}: counting noise"


def run_comparison(
    plan: ComparisonPlan,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    on_result: Callable[[Literal["a", "b"], SeedResult], None] | None = None,
) -> Comparison:
    """Run A, then B, over ``plan.seeds`` (each side's seeds in parallel: a local pool of
    ``workers`` processes, or the Dask cluster at ``scheduler``), and judge them.

    ``on_result`` hears of each finished seed with its side. Raises what :func:`sweep` raises
    (an unreachable scheduler, an interruption after cancelling the seeds not started).
    """
    results: dict[str, SweepResult] = {}
    for side in (plan.a, plan.b):
        def tell(result: SeedResult, key: Literal["a", "b"] = side.key) -> None:
            if on_result is not None:
                on_result(key, result)

        results[side.key] = sweep(side.scenario, plan.seeds, workers=workers, scheduler=scheduler,
                                  connect_timeout=connect_timeout, on_result=tell)
    return judge(plan, results["a"], results["b"])


def compare(
    a: Scenario | str | Path,
    b: Scenario | str | Path | None = None,
    *,
    seeds: int = 10,
    shared: Sequence[str] = (),
    only_a: Sequence[str] = (),
    only_b: Sequence[str] = (),
    faults: FaultPolicy = "a",
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    on_result: Callable[[Literal["a", "b"], SeedResult], None] | None = None,
) -> Comparison:
    """Compare design A with design B over the same ``seeds`` seeds and the same fault schedule
    (:func:`plan_comparison`, then :func:`run_comparison`)."""
    plan = plan_comparison(a, b, seeds=seeds, shared=shared, only_a=only_a, only_b=only_b, faults=faults)
    return run_comparison(plan, workers=workers, scheduler=scheduler, connect_timeout=connect_timeout,
                          on_result=on_result)
