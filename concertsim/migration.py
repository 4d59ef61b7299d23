"""The staged migration of seed 9, compared: the same workload and fault schedule run against every
stage (``design.topology``: the monolith, then Point, Queue and Concert split out, then every
service apart), over the same seeds.

Per stage: each invariant's violation rate (a Wilson 95% interval over the seeds), the headline
measures (Student-t 95% intervals), and the failure modes the stage introduces: the invariants
broken at that stage and at no earlier one, and the dangerous situations (coverage probes,
:mod:`concertsim.checks.probes`) first reached there, such as a reply lost after a deduction,
which needs a network between Reservation and Point. The runs go through the grid sweep
(:func:`concertsim.sweep.sweep_grid`), one cell per stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from concertsim.checks.probes import PROBES
from concertsim.cluster import DEFAULT_CONNECT_TIMEOUT
from concertsim.scenarios.schema import Scenario
from concertsim.sim.topology import STAGE_NAMES, STAGES
from concertsim.sweep import CellSummary, GridRun, MatrixError, SweepPlan, sweep_grid
from concertsim.sweep.aggregate import InvariantRate

__all__ = [
    "STAGE_NAMES",
    "TOPOLOGY_KEY",
    "MigrationError",
    "StageResult",
    "Migration",
    "parse_stages",
    "plan_migration",
    "run_migration",
    "processes_text",
]

TOPOLOGY_KEY = "design.topology"


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


def processes_text(stage: str) -> str:
    """``reservation+queue+concert+data_platform | point``: the stage's processes."""
    return " | ".join("+".join(members) for members in STAGES[stage])


def plan_migration(base: Scenario, stages: Sequence[str], seeds: Sequence[int]) -> SweepPlan:
    """The grid of ``base`` over ``stages`` and ``seeds`` (every stage runs the same seeds and the
    same fault schedule). Raises :class:`MigrationError` if a stage is not a valid scenario."""
    try:
        return SweepPlan.build(base, [(TOPOLOGY_KEY, list(stages))], seeds)
    except MatrixError as error:
        raise MigrationError(str(error)) from None


@dataclass(frozen=True)
class StageResult:
    """One stage's runs: ``summary`` (rates and measures), the invariants first broken here
    (``introduced``), those broken at an earlier stage that hold here (``repaired``), and the
    probes some run reached (``reached``: probe -> how many runs), ``first_reached`` the ones no
    earlier stage's run did."""

    stage: str
    summary: CellSummary
    introduced: tuple[str, ...]
    repaired: tuple[str, ...]
    reached: dict[str, int]
    first_reached: tuple[str, ...]

    @property
    def broken(self) -> list[InvariantRate]:
        return self.summary.broken

    def to_json(self) -> dict[str, Any]:
        summary = self.summary.to_json()
        return {
            "stage": self.stage,
            "processes": [list(members) for members in STAGES[self.stage]],
            "holds": summary["holds"],
            "violated": summary["violated"],
            "introduced": list(self.introduced),
            "repaired": list(self.repaired),
            "probes_reached": dict(self.reached),
            "probes_first_reached": list(self.first_reached),
            "invariants": summary["invariants"],
            "measures": summary["measures"],
            "seeds": summary["seeds"],
        }


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

    def to_json(self) -> dict[str, Any]:
        base = self.plan.base
        return {
            "scenario": base.name,
            "seeds": list(self.seeds),
            "faults": [fault.model_dump(mode="json") for fault in base.faults],
            "holds": self.holds,
            "stages": [stage.to_json() for stage in self.stages],
        }


def judge_stages(summaries: Sequence[tuple[str, CellSummary]]) -> tuple[StageResult, ...]:
    """Each stage with the invariants it is the first to break, those it repairs, and the
    probes it is the first to reach."""
    results = []
    broken_before: dict[str, None] = {}
    reached_before: dict[str, None] = {}
    for stage, summary in summaries:
        broken_here = [rate.invariant for rate in summary.broken]
        introduced = tuple(name for name in broken_here if name not in broken_before)
        repaired = tuple(name for name in broken_before if name not in broken_here)
        reached = _probes_reached(summary)
        first_reached = tuple(name for name in reached if name not in reached_before)
        results.append(StageResult(stage, summary, introduced, repaired, reached, first_reached))
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
    order. Raises :class:`MigrationError` for a stage that is not a valid scenario."""
    plan = plan_migration(base, stages, seeds)
    grid = sweep_grid(plan, workers=workers, scheduler=scheduler, connect_timeout=connect_timeout,
                      on_result=on_result)
    by_stage = {summary.cell.values[TOPOLOGY_KEY]: summary for summary in grid.cells}
    ordered = [(stage, by_stage[stage]) for stage in STAGE_NAMES if stage in by_stage]
    return Migration(plan, judge_stages(ordered))
