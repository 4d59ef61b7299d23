"""Exploration: search fault schedules for a broken promise and shrink it to a minimal one.

``explore`` asks Hypothesis for scenarios (``concertsim.strategies``), runs each, and stops at the
first one that violates an invariant; Hypothesis then shrinks it (fewer faults, fewer users, earlier
times) while it still fails. The minimal scenario is run twice more to confirm that it replays
exactly (same trace SHA-256), as FoundationDB's simulator checks its own determinism.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample, Unsatisfiable

from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.checks.probes import PROBES, probe_counts
from concertsim.scenarios.schema import Expectation, Scenario
from concertsim.sim.runner import run_scenario
from concertsim.strategies import FAULT_KINDS, scenarios

__all__ = ["explore", "Exploration", "DeterminismError", "run_twice"]


class DeterminismError(Exception):
    """The same (scenario, seed) gave two different traces: a bug in the simulator itself."""


@dataclass
class Exploration:
    """What an exploration found.

    ``examples_to_failure`` is how many generated examples it took to meet the first violation;
    ``runs`` counts every simulation including the shrinking ones; ``probes`` sums the coverage
    probes over the generated examples.
    """

    base: Scenario
    examples_requested: int
    runs: int = 0
    generated: int = 0
    examples_to_failure: int | None = None
    counterexample: Scenario | None = None
    outcome: RunOutcome | None = None
    probes: Counter[str] = field(default_factory=Counter)

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    def unreached_probes(self) -> list[str]:
        return [name for name in PROBES if not self.probes.get(name)]


def run_twice(scenario: Scenario) -> RunOutcome:
    """Run ``scenario`` twice and insist on the same trace hash (``--check-determinism``)."""
    first = run_scenario(scenario)
    second = run_scenario(scenario)
    if first.trace_sha256 != second.trace_sha256:
        raise DeterminismError(
            f"{scenario.name} seed {scenario.seed}: trace {first.trace_sha256[:12]} then "
            f"{second.trace_sha256[:12]}; the simulation is not deterministic"
        )
    return RunOutcome(first, check_run(first))


def explore(
    base: Scenario,
    *,
    examples: int = 100,
    seed: int = 0,
    kinds: Sequence[str] = FAULT_KINDS,
    max_faults: int = 4,
    max_users: int = 30,
    invariants: Sequence[str] | None = None,
    shrink_budget: int = 300,
    on_run: Callable[[Exploration], None] | None = None,
) -> Exploration:
    """Search up to ``examples`` generated scenarios derived from ``base`` for one that violates
    any of ``invariants`` (default: all the scenario enables), then shrink it within
    ``shrink_budget`` further runs. Deterministic for a given ``seed``.
    """
    report = Exploration(base=base, examples_requested=examples)
    wanted = set(invariants) if invariants is not None else set(base.enabled_checks())

    verdicts: dict[str, bool] = {}

    def violates(candidate: Scenario) -> bool:
        key = candidate.model_dump_json()
        if key in verdicts:
            return verdicts[key]
        if report.examples_to_failure is not None and report.runs >= report.examples_to_failure + shrink_budget:
            return False  # shrinking budget spent: keep the smallest failure found so far
        verdicts[key] = broken = _violates(candidate)
        return broken

    def _violates(candidate: Scenario) -> bool:
        report.runs += 1
        result = run_scenario(candidate)
        broken = any(not v.holds for v in check_run(result, wanted))
        if report.examples_to_failure is None:
            report.generated += 1
            report.probes.update(probe_counts(result))
            if broken:
                report.examples_to_failure = report.generated
        if on_run is not None:
            on_run(report)
        return broken

    strategy = scenarios(base, kinds=kinds, max_faults=max_faults, max_users=max_users)
    search_settings = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        # Stop generating at the first failure: Hypothesis otherwise keeps looking for other bugs
        # for a while measured in wall-clock seconds, which would make the search's course (and
        # so its result) depend on the machine's speed.
        report_multiple_bugs=False,
        print_blob=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    try:
        minimal = find(strategy, violates, settings=search_settings, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable):
        return report
    outcome = run_twice(minimal)
    report.counterexample = minimal.model_copy(
        update={
            "name": f"{base.name}-counterexample",
            "expect": Expectation(trace_sha256=outcome.result.trace_sha256, violated=tuple(outcome.violated)),
        }
    )
    report.outcome = outcome
    return report
