"""Exploration: search fault schedules for a broken promise and shrink it to a minimal one.

``explore`` asks Hypothesis for scenarios (``concertsim.strategies``) in fixed-size rounds, each
seeded from the search seed and its own index (``concertsim.search.rounds``), and stops at the
first round that meets a violation. That failure is shrunk until it is 1-minimal (fewer faults,
fewer users, narrower filters, earlier and shorter faults; ``concertsim.search.minimize``), and
the result is run twice more to confirm that it replays exactly (same trace SHA-256), as
FoundationDB's simulator checks its own determinism.

Each example may process at most ``max_events`` simulated events until its faults heal; one that
would take more is stopped and counted as over budget (neither a pass nor a violation), so a long
example cannot stall the search. After the heal the backlog is all that is left to do: an example
still busy when its allowance there is spent (``concertsim.sim.run.runner.settle_allowance``) has not
settled, and breaks ``sagas-terminate`` as at its settle deadline.

A search is a function of (base scenario, options, seed, budget, concertsim version): the same from
a checkout, an editable install or a wheel (``concertsim.search.provider``), whatever the number of
workers, and the examples of a smaller budget are the first ones of a larger budget.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.checks.probes import PROBES
from concertsim.cluster import DEFAULT_CONNECT_TIMEOUT, SchedulerUnreachable
from concertsim.scenarios.schema import Expectation, Scenario
from concertsim.search.minimize import Minimization, one_minimal
from concertsim.search.parallel import RoundPlan, run_rounds
from concertsim.search.rounds import DEFAULT_MAX_EVENTS, ROUND_SIZE, RoundResult, SearchSpace, violates
from concertsim.sim.infrastructure.trace import TraceMode
from concertsim.sim.run.runner import run_scenario
from concertsim.strategies import FAULT_KINDS

__all__ = [
    "explore", "Exploration", "DeterminismError", "SimulationCrash", "SchedulerUnreachable", "run_twice", "ROUND_SIZE",
    "DEFAULT_MAX_EVENTS",
]


class DeterminismError(Exception):
    """The same (scenario, seed) gave two different traces: a bug in the simulator itself."""


class SimulationCrash(Exception):
    """The simulation raised instead of finishing; ``scenario`` is the smallest one found that does."""

    def __init__(self, scenario: Scenario, error: Exception) -> None:
        super().__init__(f"the simulation raised {type(error).__name__}: {error}")
        self.scenario = scenario
        self.error = error


@dataclass
class Exploration:
    """What an exploration found.

    ``generated`` counts the distinct examples run before the search stopped, and
    ``examples_to_failure`` is the number of the first failing one (both count examples repeated
    from an earlier round, which are not run again). ``runs`` counts every simulation: search and
    shrinking. ``probes`` sums the coverage probes over the generated examples.
    """

    base: Scenario
    examples_requested: int
    seed: int = 0
    workers: int = 1
    runs: int = 0
    generated: int = 0
    repeated: int = 0
    """Examples identical to one of an earlier round (counted, not run again)."""
    not_generated: int = 0
    """Example numbers within the budget for which Hypothesis produced no new example in its round
    (it generates distinct examples only, and a small space runs out)."""
    rounds: int = 0
    max_events: int | None = DEFAULT_MAX_EVENTS
    """The simulated events an example could process (None: no limit)."""
    over_budget: int = 0
    """Examples stopped at ``max_events``: neither passed nor violated (repeats included, as in
    ``generated``)."""
    examples_to_failure: int | None = None
    counterexample: Scenario | None = None
    outcome: RunOutcome | None = None
    minimization: Minimization | None = None
    probes: Counter[str] = field(default_factory=Counter)
    example_digests: list[str] = field(default_factory=list)
    """SHA-256 of each example tried, in order (a smaller budget's list is a prefix of a larger's)."""
    invariants: tuple[str, ...] = ()
    """The invariants searched for (a violation of one is a failure)."""
    not_applicable: Counter[str] = field(default_factory=Counter)
    """Per invariant, the generated examples that could not judge it (they neither kept nor broke
    it), counted as ``generated`` counts them."""
    not_applicable_reasons: dict[str, str] = field(default_factory=dict)
    """Per invariant some example could not judge, the first such example's reason."""

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    @property
    def search_runs(self) -> int:
        """Simulations of the search itself: one per distinct example (a repeated one is not run
        again, so examples and runs differ by ``repeated``)."""
        return self.generated - self.repeated

    @property
    def shrink_runs(self) -> int:
        """Simulations spent shrinking the first failure to a 1-minimal one (never counting the
        search's examples: ``runs`` is ``search_runs`` plus these, once shrinking is done)."""
        return self.minimization.runs if self.minimization is not None else 0

    def judged(self, invariant: str) -> int:
        """How many generated examples judged ``invariant`` (it held or was violated)."""
        return self.generated - self.not_applicable.get(invariant, 0)

    def never_judged(self) -> dict[str, str]:
        """The invariants searched for that no generated example could judge, with a reason: a
        search that never judged a promise says nothing about it."""
        if not self.generated:
            return {}
        return {name: self.not_applicable_reasons.get(name, "") for name in self.invariants if self.judged(name) <= 0}

    def unreached_probes(self) -> list[str]:
        return [name for name in PROBES if not self.probes.get(name)]

    def _repr_html_(self) -> str:
        """The verdict, the minimal schedule and the counterexample's run, for notebooks."""
        from concertsim.reports.exports.notebook import exploration_html

        return exploration_html(self)

    def over_budget_note(self) -> str:
        """How many examples the event budget stopped, or '' if none."""
        if not self.over_budget:
            return ""
        return (f"{self.over_budget} example(s) over the budget of {self.max_events:,} simulated events: stopped "
                "there, neither a pass nor a violation (raise it with --max-events)")

    def budget_note(self) -> str:
        """Why fewer examples than asked were tried, or '' if all were."""
        reasons = []
        if self.examples_to_failure is not None:
            reasons.append(f"stopped at the first failure, example {self.examples_to_failure}")
        if self.not_generated:
            reasons.append(
                f"{self.not_generated} example number(s) left empty: Hypothesis generates only distinct "
                "examples and ran out in some rounds"
            )
        if self.repeated:
            reasons.append(f"{self.repeated} example(s) repeated an earlier round's and were not run again")
        if self.generated >= self.examples_requested and not self.repeated:
            return ""
        return f"{self.generated} of {self.examples_requested} example(s) tried: " + "; ".join(reasons)


def run_twice(scenario: Scenario, trace_mode: TraceMode = "memory") -> RunOutcome:
    """Run ``scenario`` twice and insist on the same trace hash (``--check-determinism``)."""
    first = run_scenario(scenario, trace_mode=trace_mode)
    second = run_scenario(scenario, trace_mode=trace_mode)
    if first.trace_sha256 != second.trace_sha256:
        raise DeterminismError(
            f"{scenario.name} seed {scenario.seed}: trace {first.trace_sha256[:12]} then "
            f"{second.trace_sha256[:12]}; the simulation is not deterministic"
        )
    return RunOutcome(first, check_run(first))


def search_plan(examples: int) -> list[RoundPlan]:
    """The rounds a budget of ``examples`` covers; only the last may be cut short."""
    return [
        RoundPlan(index, min(ROUND_SIZE, examples - index * ROUND_SIZE))
        for index in range(math.ceil(examples / ROUND_SIZE))
    ]


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
    max_events: int | None = DEFAULT_MAX_EVENTS,
    workers: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    on_run: Callable[[Exploration], None] | None = None,
) -> Exploration:
    """Search up to ``examples`` generated scenarios derived from ``base`` for one that violates
    any of ``invariants`` (default: all the scenario enables), and shrink it until it is
    1-minimal, within ``shrink_budget`` runs. Each run may process ``max_events`` simulated
    events; an example that would take more is counted in ``over_budget`` (a shrinking candidate
    over it does not fail).

    Rounds run in this process (``workers`` 1), on a pool of ``workers`` processes, or on the Dask
    cluster at ``scheduler``; the result is the same. ``on_run`` is told of progress: after each
    round, and after each shrinking run.
    """
    wanted = tuple(invariants) if invariants is not None else tuple(base.enabled_checks())
    report = Exploration(base=base, examples_requested=examples, seed=seed, workers=workers, max_events=max_events,
                         invariants=wanted)
    space = SearchSpace(base.model_dump_json(), tuple(kinds), max_faults, max_users, wanted, max_events)
    seen: set[str] = set()

    def count(result: RoundResult) -> None:
        report.rounds += 1
        if not result.failed:
            report.not_generated += result.limit - len(result.examples)
        for example in result.examples:
            report.generated += 1
            report.example_digests.append(example.digest)
            if example.digest in seen:
                report.repeated += 1
            else:
                seen.add(example.digest)
                report.runs += 1
            report.probes.update(example.probes)
            report.over_budget += example.over_budget
            report.not_applicable.update(list(example.not_applicable))
            for name, reason in example.not_applicable.items():
                report.not_applicable_reasons.setdefault(name, reason)
            if example.failed:
                report.examples_to_failure = report.generated
                break
        if on_run is not None:
            on_run(report)

    rounds = run_rounds(
        space, seed, search_plan(examples), workers=workers, scheduler=scheduler,
        connect_timeout=connect_timeout, on_round=count,
    )
    failing = rounds[-1] if rounds and rounds[-1].failed else None
    if failing is None or failing.failing_json is None:
        return report

    def fails(candidate: Scenario) -> bool:
        report.runs += 1
        broken, _ = violates(candidate, wanted, max_events)
        if on_run is not None:
            on_run(report)
        return broken

    first_failure = Scenario.model_validate_json(failing.failing_json)
    report.minimization = one_minimal(first_failure, fails, base=base, max_runs=shrink_budget)
    minimal = report.minimization.scenario
    try:
        outcome = run_twice(minimal)
    except DeterminismError:
        raise
    except Exception as error:
        raise SimulationCrash(minimal, error) from error
    report.counterexample = minimal.model_copy(
        update={
            "name": f"{base.name}-counterexample",
            "expect": Expectation(trace_sha256=outcome.result.trace_sha256, violated=tuple(outcome.violated)),
        }
    )
    report.outcome = outcome
    return report
