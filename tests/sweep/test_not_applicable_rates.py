"""Over many runs, a run that could not judge an invariant counts neither as holding nor as
breaking it: the rate is over the runs that judged it, and an invariant no run judged is n/a."""

from __future__ import annotations

from concertsim.reports.sweep.report import rate_text
from concertsim.sweep import SeedResult
from concertsim.sweep.aggregate import invariant_rate

REASON = "no points were given back"


def seed(number: int, violated: tuple[str, ...] = (), not_applicable: dict[str, str] | None = None) -> SeedResult:
    return SeedResult(seed=number, trace_sha256="0" * 64, violated=violated, confirmed=1, time_to_convergence=1.0,
                      wall_seconds=0.0, first_violations=(), not_applicable=not_applicable or {})


def test_a_rate_counts_only_the_runs_that_judged_the_invariant() -> None:
    runs = [seed(1, ("refunds-visible",)), seed(2), seed(3, not_applicable={"refunds-visible": REASON})]
    rate = invariant_rate("refunds-visible", runs)
    assert (rate.violated, rate.runs, rate.not_applicable, rate.status) == (1, 2, (3,), "violated")
    assert rate.rate is not None and rate.rate.estimate == 0.5
    assert rate_text(rate).startswith("✘ 1 of 2 · 50%") and rate_text(rate).endswith("(n/a in 1)")


def test_an_invariant_no_run_judged_is_not_applicable_not_held() -> None:
    runs = [seed(n, not_applicable={"refunds-visible": REASON}) for n in (1, 2)]
    rate = invariant_rate("refunds-visible", runs)
    assert (rate.runs, rate.rate, rate.status, rate.reason) == (0, None, "not_applicable", REASON)
    assert rate_text(rate) == f"n/a: {REASON}"
    assert rate.to_json()["status"] == "not_applicable" and rate.to_json()["not_applicable"] == 2


def test_a_seed_result_keeps_what_it_could_not_judge_through_the_journal() -> None:
    result = seed(4, not_applicable={"refunds-visible": REASON, "events-readable": "no schema_upgrade"})
    again = SeedResult.from_json(result.to_json())
    assert list(again.not_applicable) == ["events-readable", "refunds-visible"], "in the checks' order"
    assert not again.judged("refunds-visible") and again.judged("no-double-booking")
