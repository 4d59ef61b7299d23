"""A search in rounds: fixed-size, independently seeded Hypothesis searches.

Example number ``n`` of a search belongs to round ``n // ROUND_SIZE``, and each round is one
Hypothesis ``find`` seeded from (search seed, round index) alone. So the examples of ``-n N`` are
the first ``N`` of any larger budget (a budget only decides how many rounds run and where the last
one stops), rounds can run on any process in any order, and a given round's course never depends
on which rounds ran before it in the same process.

Each example runs within a budget of simulated events (``SearchSpace.max_events``): an example
that would take more before its faults heal is stopped there and counted as over budget, neither a
pass nor a failure, so one example that runs long cannot stall the search, and whether it is over
budget is a function of the example and the budget alone (never of wall time, the machine or the
number of workers). One that spends its allowance after the heal without settling is judged, as an
unsettled run (:func:`concertsim.sim.run.runner.settle_allowance`).

A round stops at its first failing example. Hypothesis only generates: its shrinker orders some
of its passes by labels computed from Python's randomised ``hash()``, so what it shrinks to would
depend on ``PYTHONHASHSEED``. Shrinking is done afterwards, deterministically, by
``concertsim.search.minimize``. Which of several failing rounds wins is decided by the caller: the
one with the lowest index.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample, Unsatisfiable

from concertsim.checks import check_run
from concertsim.checks.probes import probe_counts
from concertsim.scenarios.schema import Scenario
from concertsim.search.provider import BACKEND, register
from concertsim.sim.run.runner import OverBudget, run_scenario
from concertsim.strategies import FAULT_KINDS, scenarios

__all__ = [
    "ROUND_SIZE", "DEFAULT_MAX_EVENTS", "SearchSpace", "RoundResult", "Example", "Judgement", "round_seed",
    "run_round", "judge", "violates",
]

ROUND_SIZE = 25
"""Examples per round. Part of the search's definition: changing it changes every search."""

DEFAULT_MAX_EVENTS = 250_000
"""Simulated events an example may process by default: more than ten times the most any example of
a built-in scenario took in a measured search (21,416; docs/design.md, "How the search searches")."""

register()


@dataclass(frozen=True)
class SearchSpace:
    """What a search draws from and what counts as a failure (picklable, for worker processes)."""

    base_json: str
    kinds: tuple[str, ...] = FAULT_KINDS
    max_faults: int = 4
    max_users: int = 30
    invariants: tuple[str, ...] = ()
    """The invariants whose violation is a failure."""
    max_events: int | None = DEFAULT_MAX_EVENTS
    """Simulated events an example may process before it is stopped as over budget (None: no limit)."""

    @property
    def base(self) -> Scenario:
        return Scenario.model_validate_json(self.base_json)


@dataclass(frozen=True)
class Example:
    """One generated example: its identity (SHA-256 of the scenario), what it reached, its verdict
    (``failed``, or ``over_budget``: stopped at the event budget, neither passed nor failed)."""

    digest: str
    probes: dict[str, int]
    failed: bool
    over_budget: bool = False
    not_applicable: dict[str, str] = field(default_factory=dict)
    """The invariants searched for that this example could not judge, with the reason."""


@dataclass
class RoundResult:
    """What one round tried and, if it failed, its first failing example."""

    index: int
    examples: list[Example] = field(default_factory=list)
    limit: int = ROUND_SIZE
    failing_json: str | None = None

    @property
    def failed(self) -> bool:
        return self.failing_json is not None


def round_seed(seed: int, index: int) -> int:
    """The seed of round ``index`` of the search seeded ``seed`` (stable across processes)."""
    digest = hashlib.sha256(f"concertsim-search:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Judgement:
    """What running an example showed: whether it broke an invariant, the coverage probes it
    reached, and whether it was stopped at the event budget instead (then it broke nothing)."""

    broken: bool
    probes: dict[str, int]
    over_budget: bool = False
    not_applicable: dict[str, str] = field(default_factory=dict)
    """The invariants judged that the run could not judge, with the reason."""


def judge(scenario: Scenario, invariants: tuple[str, ...], max_events: int | None = None) -> Judgement:
    """Run ``scenario`` within ``max_events`` simulated events; whether it breaks any of
    ``invariants``, and its coverage probes.

    A run that raises counts as a failure, so that the search shrinks it like any other: an
    exception inside the simulation is a bug of the simulator or of the domain code it runs. A run
    stopped at the budget is judged neither way."""
    try:
        result = run_scenario(scenario, max_events=max_events)
    except OverBudget:
        return Judgement(False, {}, over_budget=True)
    except Exception:
        return Judgement(True, {})
    verdicts = check_run(result, set(invariants))
    broken = any(v.violated for v in verdicts)
    unjudged = {v.invariant.id: v.not_applicable for v in verdicts if v.not_applicable is not None}
    return Judgement(broken, probe_counts(result), not_applicable=unjudged)


def violates(
    scenario: Scenario, invariants: tuple[str, ...], max_events: int | None = None
) -> tuple[bool, dict[str, int]]:
    """:func:`judge`'s verdict and probes (a run over budget does not violate)."""
    judged = judge(scenario, invariants, max_events)
    return judged.broken, judged.probes


# Verdicts already computed in this process, so that an example repeated by a later round (each
# round starts from Hypothesis's simplest example, for one) is not simulated again. Only time is
# saved: a round's accounting never depends on what this cache holds.
_known: dict[tuple[tuple[str, ...], int | None, str], Judgement] = {}
_KNOWN_LIMIT = 20_000


def _judged(scenario: Scenario, digest: str, invariants: tuple[str, ...], max_events: int | None) -> Judgement:
    key = (invariants, max_events, digest)
    if key not in _known:
        if len(_known) >= _KNOWN_LIMIT:
            _known.clear()
        _known[key] = judge(scenario, invariants, max_events)
    return _known[key]


def run_round(space: SearchSpace, seed: int, index: int, limit: int = ROUND_SIZE) -> RoundResult:
    """Round ``index``: at most ``limit`` distinct examples (the round's share of the budget), up to
    the first that fails."""
    outcome = RoundResult(index=index, limit=limit)
    verdicts: dict[str, bool] = {}

    def condition(candidate: Scenario) -> bool:
        digest = hashlib.sha256(candidate.model_dump_json().encode()).hexdigest()
        if digest in verdicts:
            return verdicts[digest]
        if outcome.failed or len(outcome.examples) >= limit:
            return False  # past the failure or this round's share of the budget: never run
        judged = _judged(candidate, digest, space.invariants, space.max_events)
        outcome.examples.append(Example(digest, judged.probes, judged.broken, judged.over_budget, judged.not_applicable))
        if judged.broken:
            outcome.failing_json = candidate.model_dump_json()
        verdicts[digest] = judged.broken
        return judged.broken

    strategy = scenarios(space.base, kinds=space.kinds, max_faults=space.max_faults, max_users=space.max_users)
    try:
        find(strategy, condition, settings=_SETTINGS, random=random.Random(round_seed(seed, index)))
    except (NoSuchExample, Unsatisfiable):
        pass
    return outcome


_SETTINGS = settings(
    backend=BACKEND,
    max_examples=ROUND_SIZE,
    database=None,
    deadline=None,
    derandomize=False,
    # Stop at the first failure: Hypothesis otherwise keeps looking for other bugs for a while
    # measured in wall-clock seconds, which would make the result depend on the machine.
    report_multiple_bugs=False,
    print_blob=False,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
