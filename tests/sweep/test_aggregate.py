"""Aggregation per cell: each invariant's violation rate with its Wilson 95% interval, each
headline measure's mean with its Student-t 95% interval, and a summary.json that depends only on
the set of runs."""

from __future__ import annotations

import json
import random

import pytest

from concertsim.metrics import MEASURES
from concertsim.scenarios.schema import INVARIANT_IDS
from tests.sweep import fakes


def test_each_invariant_gets_its_violation_rate_with_a_wilson_interval() -> None:
    plan = fakes.plan("design.publish=outbox,dual_write", seeds=range(1, 6))
    outbox, dual = plan.cells
    runs = [fakes.run(outbox, s) for s in plan.seeds]
    runs += [fakes.run(dual, s, ["no-lost-events"] if s <= 3 else []) for s in plan.seeds]
    cells = fakes.result(plan, runs).cells
    assert cells[0].holds and not cells[1].holds
    rate = cells[1].rates["no-lost-events"]
    assert (rate.violated, rate.runs, rate.broken_seeds) == (3, 5, (1, 2, 3))
    # Wilson 95% for 3 of 5, by hand: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    assert rate.rate.estimate == 0.6
    assert rate.rate.low == pytest.approx(0.2307, abs=1e-4) and rate.rate.high == pytest.approx(0.8824, abs=1e-4)
    none = cells[0].rates["no-lost-events"]
    assert none.violated == 0 and none.rate.low == 0 and none.rate.high == pytest.approx(0.4345, abs=1e-4)
    assert list(cells[0].rates) == list(INVARIANT_IDS), "every checked invariant, in the checks' order"


def test_each_measure_gets_its_mean_with_a_bootstrap_interval_and_none_when_no_run_had_one() -> None:
    plan = fakes.plan(seeds=range(1, 5))
    (cell,) = plan.cells
    latencies = [10.0, 12.0, 14.0, 16.0]
    runs = [fakes.run(cell, s, latency_p95_ms=v, pay_p95_ms=None) for s, v in zip(plan.seeds, latencies)]
    (summary,) = fakes.result(plan, runs).cells
    interval = summary.measures["latency_p95_ms"]
    # Over four seeds the expanded percentile bootstrap reads its resamples at the 0.01% tails:
    # the whole range of the values.
    assert interval.estimate == 13 and interval.n == 4 and interval.method == "bootstrap-expanded-percentile"
    assert (interval.low, interval.high) == (10.0, 16.0)
    assert summary.measures["pay_p95_ms"] is None
    assert set(summary.measures) == set(MEASURES)


def test_the_summary_depends_only_on_the_set_of_runs_and_holds_no_wall_time() -> None:
    plan = fakes.plan("design.publish=outbox,dual_write", "workload.users=5,10")
    runs = [fakes.run(cell, s, ["sagas-terminate"] if s == 2 else [], latency_p95_ms=float(cell.index * 10 + s))
            for cell in plan.cells for s in plan.seeds]
    shuffled = list(runs)
    random.Random(7).shuffle(shuffled)
    summary = fakes.result(plan, runs).to_json()
    assert json.dumps(fakes.result(plan, shuffled).to_json()) == json.dumps(summary)
    assert "wall" not in json.dumps(summary)
    assert summary["violated"] == {"sagas-terminate": [cell.label for cell in plan.cells]}
    assert summary["matrix"] == {"design.publish": ["outbox", "dual_write"], "workload.users": [5, 10]}
    first = summary["cells"][0]
    assert first["cell"] == {"design.publish": "outbox", "workload.users": 5} and first["runs"] == 3
    assert first["invariants"]["sagas-terminate"]["seeds"] == [2]
    assert first["measures"]["latency_p95_ms"]["estimate"] == 2.0
    assert [s["seed"] for s in first["seeds"]] == [1, 2, 3]


def test_no_measure_of_a_cell_gets_a_negative_bound() -> None:
    # A skewed non-negative measure over four seeds: a Student-t interval reaches below zero.
    plan = fakes.plan(seeds=range(1, 5))
    (cell,) = plan.cells
    runs = [fakes.run(cell, s, time_to_convergence_s=v, funnel_confirmed=c)
            for s, v, c in zip(plan.seeds, [0.1, 0.2, 0.1, 6.0], [0.0, 0.0, 0.0, 2.0])]
    (summary,) = fakes.result(plan, runs).cells
    for name in ("time_to_convergence_s", "funnel_confirmed"):
        assert summary.measures[name].low >= 0.0, (name, summary.measures[name])
