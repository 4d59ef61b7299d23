"""Comparing two designs: the same seeds on both sides, the statistics of each invariant and
measure, and significance where a safeguard is switched off under a fault it exists for, none
between identical sides."""

from __future__ import annotations

import math

import pytest

from concertsim.comparison import Comparison, compare, judge, plan_comparison
from concertsim.metrics import MEASURES
from concertsim.reports.comparison.figures import comparison_figures
from concertsim.sweep import SeedResult, SweepResult

# Every reply of Point's `use` is lost: Reservation fails the payment; only the compensating refund
# gives the points back (the README's worked example, with a lost reply instead of a late one).
LOST_USE_REPLIES = "faults=[{at: 0, kind: drop, target: reply, match: {message_type: point.use}}]"
SMALL = ("workload.users=10",)


def fake_run(seed: int, violated: tuple[str, ...] = (), confirmed: int = 15, **measures: float | None) -> SeedResult:
    return SeedResult(seed=seed, trace_sha256=f"{seed:064x}", violated=violated, confirmed=confirmed,
                      time_to_convergence=1.0, wall_seconds=0.0, first_violations=(), measures=measures)


def judged(a_runs: list[SeedResult], b_runs: list[SeedResult]) -> Comparison:
    plan = plan_comparison("small-opening", only_b=["design.compensation=false"], seeds=len(a_runs))
    return judge(plan, SweepResult(plan.a.scenario, a_runs), SweepResult(plan.b.scenario, b_runs))


def test_both_sides_ran_the_same_seeds() -> None:
    comparison = compare("small-opening", only_b=["design.publish=dual_write"], shared=SMALL, seeds=3, workers=1)
    assert [s.seed for s in comparison.a_runs.seeds] == [s.seed for s in comparison.b_runs.seeds] == [1, 2, 3]
    assert comparison.to_json()["seeds"] == [1, 2, 3]
    assert all(run["a"] is not None and run["b"] is not None for run in comparison.to_json()["runs"])


def test_runs_of_other_seeds_are_not_judged() -> None:
    with pytest.raises(ValueError, match=r"side B ran seeds \[1, 2, 4\], not \[1, 2, 3\]"):
        judged([fake_run(1), fake_run(2), fake_run(3)], [fake_run(1), fake_run(2), fake_run(4)])


def test_rates_get_wilson_intervals_and_fisher_p_values() -> None:
    a = [fake_run(seed) for seed in range(1, 7)]
    b = [fake_run(seed, ("no-orphaned-deduction",)) for seed in range(1, 7)]
    invariant = next(i for i in judged(a, b).invariants if i.id == "no-orphaned-deduction")
    assert invariant.a is not None and invariant.b is not None
    assert invariant.a.broken_seeds == () and invariant.b.broken_seeds == (1, 2, 3, 4, 5, 6)
    assert invariant.a.rate.high == pytest.approx(0.390, abs=1e-3)  # Wilson, 0 of 6
    assert invariant.p_value == pytest.approx(2 / 924)  # Fisher: 1 / C(12, 6), two-sided
    assert invariant.significant and invariant.worse == "b"


def test_measures_are_paired_by_seed() -> None:
    a = [fake_run(seed, latency_p95_ms=100.0 + seed) for seed in range(1, 8)]
    b = [fake_run(seed, latency_p95_ms=110.0 + seed + (seed % 2) * 0.5) for seed in range(1, 8)]
    comparison = judged(a, b)
    measure = next(m for m in comparison.measures if m.name == "latency_p95_ms")
    assert measure.a is not None and measure.a.estimate == pytest.approx(104.0)
    assert measure.difference is not None and measure.difference.estimate == pytest.approx(10 + 2 / 7)
    assert measure.pairs == 7 and measure.p_value == pytest.approx(2 / 2**7)
    assert measure.significant and measure.favours == "a", "higher latency in B favours A"
    assert comparison.verdict().startswith("Prefer A (small-opening): no invariant differs, and A is "
                                           "significantly better on latency p95")
    missing = next(m for m in comparison.measures if m.name == "pay_p95_ms")
    assert missing.a is None and missing.difference is None and not missing.significant


def test_a_broken_promise_outweighs_a_better_measure_and_the_verdict_says_both() -> None:
    a = [fake_run(seed, latency_p95_ms=200.0 + seed) for seed in range(1, 8)]
    b = [fake_run(seed, ("no-orphaned-deduction",), latency_p95_ms=100.0) for seed in range(1, 8)]
    assert judged(a, b).verdict() == ("Prefer A (small-opening): B breaks no-orphaned-deduction significantly more "
                                      "often, although B is significantly better on latency p95.")


def test_too_few_seeds_are_said_to_be_too_few() -> None:
    a = [fake_run(seed, latency_p95_ms=100.0) for seed in range(1, 6)]
    b = [fake_run(seed, latency_p95_ms=200.0 + seed) for seed in range(1, 6)]
    comparison = judged(a, b)
    assert not comparison.significant_measures()
    assert "too few for the signed-rank test" in comparison.verdict()
    assert "excludes zero for latency p95" in comparison.verdict()
    assert "smallest p-value over 5 seeds is 0.0625" in (comparison.power_note() or "")


def test_switching_compensation_off_under_lost_replies_is_significantly_worse() -> None:
    comparison = compare("small-opening", only_b=["design.compensation=false"], shared=(*SMALL, LOST_USE_REPLIES),
                         seeds=5, workers=2)
    orphaned = next(i for i in comparison.invariants if i.id == "no-orphaned-deduction")
    assert orphaned.a is not None and orphaned.b is not None
    assert orphaned.a.broken_seeds == () and orphaned.b.broken_seeds == (1, 2, 3, 4, 5)
    assert orphaned.significant and orphaned.worse == "b"
    assert comparison.verdict().startswith("Prefer A (small-opening): B breaks no-orphaned-deduction")
    assert not comparison.holds


def test_identical_sides_differ_in_nothing() -> None:
    comparison = compare("small-opening", "small-opening", shared=(*SMALL, LOST_USE_REPLIES), seeds=6, workers=1)
    assert comparison.plan.identical
    assert not comparison.significant_invariants() and not comparison.significant_measures()
    assert all(i.p_value == 1.0 for i in comparison.invariants if i.a.applicable)
    assert all(i.p_value is None for i in comparison.invariants if not i.a.applicable), "nothing to test: n/a"
    for measure in comparison.measures:
        assert measure.p_value == 1.0
        assert measure.difference is None or (measure.difference.estimate == 0 and measure.difference.half_width == 0)
    assert comparison.verdict().startswith("No significant difference between A and B over 6 seeds")
    assert comparison_figures(comparison) == [], "nothing to draw"


def test_the_json_is_plain_data_with_every_invariant_and_measure() -> None:
    comparison = judged([fake_run(1, latency_p95_ms=math.nan)], [fake_run(1, latency_p95_ms=3.0)])
    data = comparison.to_json()
    assert set(data) >= {"a", "b", "seeds", "faults", "differences", "significance", "holds", "verdict",
                         "invariants", "measures", "runs"}
    assert [m["name"] for m in data["measures"]] == list(MEASURES)
    assert data["runs"][0]["a"]["measures"]["latency_p95_ms"] is None, "NaN is not JSON"
    assert data["differences"] == [{"field": "design.compensation", "a": True, "b": False}]


def test_a_measure_that_cannot_be_negative_gets_no_negative_bound() -> None:
    # Half the seeds confirm one user: a Student-t interval of the mean reaches below zero.
    a = [fake_run(seed, funnel_confirmed=float(seed % 2), time_to_convergence_s=[0.1, 0.2, 6.0][seed % 3])
         for seed in range(1, 7)]
    comparison = judged(a, a)
    for name in ("funnel_confirmed", "time_to_convergence_s"):
        measure = next(m for m in comparison.measures if m.name == name)
        assert measure.a is not None and measure.a.low >= 0.0, (name, measure.a)


def test_a_per_booking_measure_over_about_one_booking_is_not_a_difference() -> None:
    # B sends more messages per booking in every seed, but each seed confirms one booking.
    a = [fake_run(seed, confirmed=1, messages_per_booking=560.0 + seed) for seed in range(1, 8)]
    b = [fake_run(seed, confirmed=1, messages_per_booking=590.0 + seed) for seed in range(1, 8)]
    comparison = judged(a, b)
    measure = next(m for m in comparison.measures if m.name == "messages_per_booking")
    assert measure.p_value < 0.05 and not measure.significant
    assert measure.not_compared is not None and "bookings per seed" in measure.not_compared
    assert "messages per booking" not in comparison.verdict()
    assert [f.name for f in comparison_figures(comparison)] == []


def test_the_verdict_says_what_it_rests_on_and_that_a_side_books_almost_nothing() -> None:
    a = [fake_run(seed, confirmed=0, latency_p95_ms=100.0 + seed) for seed in range(1, 7)]
    b = [fake_run(seed, ("no-orphaned-deduction",), confirmed=1, latency_p95_ms=200.0 + seed)
         for seed in range(1, 7)]
    comparison = judged(a, b)
    assert comparison.verdict().startswith("Prefer A")
    assert "latency" not in comparison.verdict()  # a side that books nothing: its latency is no finding
    grounds = comparison.grounds()
    assert "B breaks no-orphaned-deduction in 6 of 6 seeds, A in 0 of 6 (Fisher p = 0.0022)" in grounds
    assert "Measures not compared: A confirms 0 bookings per seed" in grounds
    assert comparison.to_json()["grounds"] == grounds
    assert comparison.significant_measures() == [] and [f.name for f in comparison_figures(comparison)] == [
        "invariant-rates"]
