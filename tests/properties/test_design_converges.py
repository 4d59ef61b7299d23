"""The property: for the full design, every invariant holds for every generated schedule.

Swarm-style fault schedules (``concertsim.strategies``) over a small ticket opening, for each
payment flow. CI runs them derandomized and bounded; ``HYPOTHESIS_PROFILE=explore`` or
``concertsim explore`` search further.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.reports.run.saga import describe, saga_of
from concertsim.scenarios.loader import scenario_from_data
from concertsim.scenarios.schema import Scenario
from concertsim.sim.run.runner import run_scenario
from concertsim.strategies import scenarios, small_base

BASES = {
    flow: scenario_from_data(small_base().model_dump(mode="json"), f"property-{flow}", [f"design.payment_flow={flow}"])
    for flow in ("sync", "choreography", "orchestration")
}


def explain(outcome: RunOutcome) -> str:
    """What broke, with the faults and the first broken saga, for the failure message."""
    lines = [f"violated: {outcome.violated}", "faults:"]
    lines += [f"  {f.model_dump(exclude_defaults=True)}" for f in outcome.result.scenario.faults]
    first = next(v for verdict in outcome.verdicts for v in verdict.violations)
    lines.append(f"first violation: {first.message}")
    if first.saga:
        lines += [f"  {r.at:9.3f} {describe(r)}" for r in saga_of(outcome.result, first.saga).records]
    return "\n".join(lines)


def assert_keeps_every_promise(scenario: Scenario) -> None:
    result = run_scenario(scenario)
    outcome = RunOutcome(result, check_run(result))
    assert outcome.holds, explain(outcome)


@pytest.mark.parametrize("flow", ["sync", "choreography", "orchestration"])
def test_full_design_keeps_every_promise_under_generated_faults(flow: str) -> None:
    @settings(max_examples=250)
    @given(scenarios(BASES[flow]))
    def check(scenario: Scenario) -> None:
        assert_keeps_every_promise(scenario)

    check()
