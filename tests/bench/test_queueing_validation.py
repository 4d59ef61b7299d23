"""The queueing model is right: a small version of ``bench/queueing_validation.py``.

A simulated service with c workers fed Poisson arrivals and exponential service times must wait
what Erlang's C formula says, two in series what the product form says, and obey Little's law.
The benchmark checks four utilisations with long replications; here two, short, so CI stays fast.
"""

from __future__ import annotations

import pytest

from tests.bench.bench_modules import load_bench


def test_erlang_c_matches_a_textbook_value() -> None:
    bench = load_bench("queueing_validation")
    # 2 servers, 1 erlang offered: C = 1/3 (an arrival waits with probability one third).
    assert bench.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # M/M/1 at ρ: time in system 1/(μ-λ).
    assert bench.mmc_time_in_system(1, 0.5, 1.0) == pytest.approx(2.0)


@pytest.mark.parametrize(("stations", "utilisation"), [(1, 0.7), (2, 0.5)])
def test_a_simulated_service_waits_what_queueing_theory_says(stations: int, utilisation: float) -> None:
    bench = load_bench("queueing_validation")
    check = bench.validate(workers=4, utilisation=utilisation, stations=stations,
                           replications=8, customers=8000, warmup=1000)
    assert check.inside, (check.expected, check.measured)
    assert check.relative_half_width < 0.05
    assert check.littles_gap < 0.01


def test_the_check_can_fail_when_the_worker_pool_is_not_what_the_formula_assumes() -> None:
    """The same measurement against the formula for twice the workers: far outside the interval."""
    bench = load_bench("queueing_validation")
    check = bench.validate(workers=2, utilisation=0.8, stations=1, replications=6, customers=6000, warmup=600)
    wrong = bench.mmc_time_in_system(4, 0.4, bench.MEAN_SERVICE)
    assert not check.measured.low <= wrong <= check.measured.high
