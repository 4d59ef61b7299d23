"""The staged migration of seed 9, compared: the same workload and fault schedule run against every
stage (``design.topology``: the monolith, then Point, Queue and Concert split out, then every
service apart), over the same seeds.

Per stage: each invariant's violation rate (a Wilson 95% interval over the seeds), the headline
measures (percentile bootstrap 95% intervals), and the failure modes the stage introduces: the invariants
broken at that stage and at no earlier one, and the dangerous situations (coverage probes,
:mod:`concertsim.checks.probes`) first reached there, such as a reply lost after a deduction,
which needs a network between Reservation and Point. The runs go through the grid sweep
(:func:`concertsim.sweep.sweep_grid`), one cell per stage.

A scenario with faults also runs every stage without them (``faults: []``, the same seeds): the
fault-free runs say what a split costs by itself (a network hop, event deliveries), the faulted runs
what the faults do to it; a lost reply's retries and timeouts are not a split's cost.

A stage may carry a traffic shift (the strangler pattern): ``monolith@25`` is the monolith with
``design.point_shift`` 25, a quarter of the users' Point operations served by the split-out Point
(:mod:`concertsim.sim.run.point_shift`); it runs between the monolith and ``point_split``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from concertsim.checks.probes import PROBES
from concertsim.cluster import DEFAULT_CONNECT_TIMEOUT
from concertsim.scenarios.schema import Scenario
from concertsim.sim.hosting.shift_routing import NEW_POINT, ShiftRouting
from concertsim.sim.hosting.topology import STAGE_NAMES, STAGES
from concertsim.sweep import Axis, CellSummary, GridRun, MatrixError, SweepPlan, sweep_grid
from concertsim.sweep.aggregate import InvariantRate

__all__ = [
    "STAGE_NAMES",
    "TOPOLOGY_KEY",
    "SHIFT_KEY",
    "with_shift",
    "MigrationError",
    "StageResult",
    "Migration",
    "parse_stages",
    "plan_migration",
    "run_migration",
    "processes_text",
    "users_shifted",
    "without_shift",
    "without_faults",
    "runs_needed",
    "bookings_per_run",
]

TOPOLOGY_KEY = "design.topology"
SHIFT_KEY = "design.point_shift"
SHIFTED_STAGE = "monolith"
"""The stage a traffic shift runs at (``monolith@N``)."""
SHIFT_ONLY = ("point-stores-agree",)
"""Invariants about two Point stores: a stage without a shift has one store, so holding them
there repairs nothing."""


class MigrationError(ValueError):
    """A migration that cannot be run as asked; the message names the option and the reason."""


def parse_stages(text: str | None) -> tuple[str, ...]:
    """The stages named in ``text`` (comma-separated; None: every stage), in the seed's order.

    Raises :class:`MigrationError` for an empty list, an unknown or repeated name."""
    if text is None:
        return STAGE_NAMES
    names = [name.strip() for name in text.split(",")]
    if not any(names):
        raise MigrationError(f"--stages: name at least one stage of {', '.join(STAGE_NAMES)}")
    for name in names:
        if name not in STAGES:
            raise MigrationError(f"--stages: unknown stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise MigrationError(f"--stages: {', '.join(repeated)} named twice")
    return tuple(stage for stage in STAGE_NAMES if stage in names)


def with_shift(stages: Sequence[str], shift: int | None) -> tuple[str, ...]:
    """``stages`` and, with a ``shift`` (1 to 100), the monolith with that share of users shifted
    to the split-out Point (``monolith@25``), in the seed's order. Raises :class:`MigrationError`
    for a shift out of range."""
    if shift is None:
        return tuple(stages)
    if not 1 <= shift <= 100:
        raise MigrationError(f"--shift: {shift} is not a share of users in percent, 1 to 100")
    return tuple(sorted({*stages, f"{SHIFTED_STAGE}@{shift}"}, key=_stage_order))


def _stage_parts(stage: str) -> tuple[str, int]:
    """(topology, shift) of a stage label: ``monolith@25`` -> (``monolith``, 25)."""
    topology, _, shift = stage.partition("@")
    return topology, int(shift or 0)


def _stage_order(stage: str) -> tuple[int, int]:
    topology, shift = _stage_parts(stage)
    return STAGE_NAMES.index(topology), shift


def processes_text(stage: str, users: int) -> str:
    """``reservation+queue+concert+data_platform | point``: the stage's processes (with a shift,
    the split-out Point and how many of the ``users`` it serves)."""
    topology, shift = _stage_parts(stage)
    text = " | ".join("+".join(members) for members in STAGES[topology])
    return f"{text} | {NEW_POINT} ({users_shifted(stage, users)} of {users} users, {shift}%)" if shift else text


def users_shifted(stage: str, users: int) -> int:
    """How many of ``users`` the split-out Point serves at ``stage`` (0 without a shift)."""
    shift = _stage_parts(stage)[1]
    return len(ShiftRouting(shift, users).shifted) if shift else 0


def without_shift(base: Scenario) -> tuple[Scenario, int]:
    """``base`` without its traffic shift, and the shift it carried (0 if none). A scenario that
    shifts users (the built-in ``point-shift``) describes the stage ``monolith@N``; the other stages
    run it without the shift, which only the monolith can carry."""
    shift = base.design.point_shift
    if not shift:
        return base, 0
    return base.model_copy(update={"design": base.design.model_copy(update={"point_shift": 0})}), shift


def plan_migration(base: Scenario, stages: Sequence[str], seeds: Sequence[int]) -> SweepPlan:
    """The grid of ``base`` over ``stages`` and ``seeds`` (every stage runs the same seeds and the
    same fault schedule). Raises :class:`MigrationError` if a stage is not a valid scenario."""
    if not any("@" in stage for stage in stages):
        try:
            return SweepPlan.build(base, [(TOPOLOGY_KEY, list(stages))], seeds)
        except MatrixError as error:
            raise MigrationError(str(error)) from None
    cells = []
    for index, stage in enumerate(stages):
        topology, shift = _stage_parts(stage)
        try:
            (cell,) = SweepPlan.build(_shifted(base, topology, shift), [(TOPOLOGY_KEY, [topology])], seeds).cells
        except MatrixError as error:
            raise MigrationError(str(error)) from None
        if shift:
            cell = replace(cell, values={**cell.values, SHIFT_KEY: shift}, texts={**cell.texts, SHIFT_KEY: str(shift)})
        cells.append(replace(cell, index=index))
    return SweepPlan(base, (Axis("stage", tuple(stages), tuple(stages)),), tuple(seeds), tuple(cells))


def _shifted(base: Scenario, topology: str, shift: int) -> Scenario:
    """``base`` at ``topology`` with ``shift`` percent of users on the split-out Point (``base``
    itself without a shift)."""
    if not shift:
        return base
    data = base.model_dump(mode="json")
    data["design"].update({"topology": topology, "point_shift": shift})
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        reasons = "; ".join(str(problem["msg"]).removeprefix("Value error, ") for problem in error.errors())
        raise MigrationError(f"--shift {shift}: {reasons}") from None


def stage_of(values: dict[str, Any]) -> str:
    """The stage label of a cell's values: its topology, and ``@shift`` with a traffic shift."""
    shift = values.get(SHIFT_KEY)
    return f"{values[TOPOLOGY_KEY]}@{shift}" if shift else str(values[TOPOLOGY_KEY])


@dataclass(frozen=True)
class StageResult:
    """One stage's runs: ``summary`` (rates and measures), the invariants first broken here
    (``introduced``), those broken at an earlier stage that hold here (``repaired``), and the
    probes some run reached (``reached``: probe -> how many runs), ``first_reached`` the ones no
    earlier stage's run did. An invariant no run of the stage could judge (not applicable there)
    is never repaired by it. ``baseline`` is the stage's runs without the scenario's faults (None
    when the scenario has none: ``summary`` is then fault-free itself)."""

    stage: str
    summary: CellSummary
    introduced: tuple[str, ...]
    repaired: tuple[str, ...]
    reached: dict[str, int]
    first_reached: tuple[str, ...]
    baseline: CellSummary | None = None

    @property
    def fault_free(self) -> CellSummary:
        """The stage's runs without faults: ``baseline``, or ``summary`` for a scenario without
        faults."""
        return self.baseline if self.baseline is not None else self.summary

    @property
    def broken(self) -> list[InvariantRate]:
        return self.summary.broken

    def to_json(self) -> dict[str, Any]:
        summary = self.summary.to_json()
        return {
            "stage": self.stage,
            "processes": [list(members) for members in STAGES[_stage_parts(self.stage)[0]]],
            "point_shift": _stage_parts(self.stage)[1],
            "holds": summary["holds"],
            "violated": summary["violated"],
            "not_applicable": summary["not_applicable"],
            "introduced": list(self.introduced),
            "repaired": list(self.repaired),
            "probes_reached": dict(self.reached),
            "probes_first_reached": list(self.first_reached),
            "invariants": summary["invariants"],
            "measures": summary["measures"],
            "seeds": summary["seeds"],
            "bookings_per_run": bookings_per_run(self.summary),
            "without_faults": None if self.baseline is None else {
                "holds": self.baseline.holds,
                "violated": [rate.invariant for rate in self.baseline.broken],
                "measures": {name: None if i is None else i.to_json() for name, i in self.baseline.measures.items()},
                "bookings_per_run": bookings_per_run(self.baseline),
            },
        }


def bookings_per_run(summary: CellSummary) -> float | None:
    """The mean confirmed bookings per run of a stage (None without runs)."""
    runs = summary.runs
    return sum(run.result.confirmed for run in runs) / len(runs) if runs else None


@dataclass(frozen=True)
class Migration:
    """Every stage asked for, in the seed's order, over the same seeds."""

    plan: SweepPlan
    stages: tuple[StageResult, ...]

    @property
    def holds(self) -> bool:
        return all(stage.summary.holds for stage in self.stages)

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.plan.seeds

    @property
    def faulted(self) -> bool:
        """Whether the scenario has faults (every stage then also ran without them)."""
        return bool(self.plan.base.faults)

    def to_json(self) -> dict[str, Any]:
        base = self.plan.base
        return {
            "scenario": base.name,
            "seeds": list(self.seeds),
            "faults": [fault.model_dump(mode="json") for fault in base.faults],
            "fault_free_baseline": self.faulted,
            "holds": self.holds,
            "stages": [stage.to_json() for stage in self.stages],
        }


def judge_stages(
    summaries: Sequence[tuple[str, CellSummary]], baselines: dict[str, CellSummary] | None = None
) -> tuple[StageResult, ...]:
    """Each stage with the invariants it is the first to break, those it repairs, the probes it
    is the first to reach, and its fault-free runs from ``baselines`` (by stage), if any."""
    results = []
    broken_before: dict[str, None] = {}
    reached_before: dict[str, None] = {}
    for stage, summary in summaries:
        broken_here = [rate.invariant for rate in summary.broken]
        introduced = tuple(name for name in broken_here if name not in broken_before)
        repaired = tuple(name for name in broken_before if name not in broken_here
                         and name in summary.rates and summary.rates[name].applicable
                         and ("@" in stage or name not in SHIFT_ONLY))
        reached = _probes_reached(summary)
        first_reached = tuple(name for name in reached if name not in reached_before)
        results.append(StageResult(stage, summary, introduced, repaired, reached, first_reached,
                                   (baselines or {}).get(stage)))
        broken_before.update(dict.fromkeys(broken_here))
        reached_before.update(dict.fromkeys(reached))
    return tuple(results)


def _probes_reached(summary: CellSummary) -> dict[str, int]:
    """probe -> how many of the stage's runs reached it (only probes some run reached), in the
    probes' order."""
    counts: dict[str, int] = {}
    for run in summary.runs:
        for name, count in run.result.probes.items():
            if count:
                counts[name] = counts.get(name, 0) + 1
    return {name: counts[name] for name in PROBES if name in counts}


def run_migration(
    base: Scenario,
    stages: Sequence[str],
    seeds: Sequence[int],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    on_result: Callable[[GridRun], None] | None = None,
) -> Migration:
    """Run ``base`` at every stage of ``stages`` with every seed (on a process pool or a Dask
    cluster, as :func:`~concertsim.sweep.sweep_grid` says) and judge the stages in the seed's
    order. A scenario with faults runs every stage a second time without them (:func:`runs_needed`
    runs in all). Raises :class:`MigrationError` for a stage that is not a valid scenario."""
    plan = plan_migration(base, stages, seeds)
    grid = sweep_grid(plan, workers=workers, scheduler=scheduler, connect_timeout=connect_timeout,
                      on_result=on_result)
    by_stage = {stage_of(summary.cell.values): summary for summary in grid.cells}
    ordered = [(stage, by_stage[stage]) for stage in sorted(by_stage, key=_stage_order)]
    baselines: dict[str, CellSummary] = {}
    if base.faults:
        fault_free = sweep_grid(plan_migration(without_faults(base), stages, seeds), workers=workers,
                                scheduler=scheduler, connect_timeout=connect_timeout, on_result=on_result)
        baselines = {stage_of(summary.cell.values): summary for summary in fault_free.cells}
    return Migration(plan, judge_stages(ordered, baselines))


def without_faults(base: Scenario) -> Scenario:
    """``base`` with ``faults: []``: what a stage costs by itself."""
    return base.model_copy(update={"faults": ()})


def runs_needed(plan: SweepPlan) -> int:
    """How many runs :func:`run_migration` makes for ``plan``: twice its runs when the scenario
    has faults (the fault-free baseline of every stage)."""
    return plan.total_runs * (2 if plan.base.faults else 1)
