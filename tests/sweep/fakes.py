"""Runs made up for testing what is computed from them (aggregates, reports), without simulating."""

from __future__ import annotations

from collections.abc import Sequence

from concertsim.metrics import MEASURES
from concertsim.sweep import Cell, GridResult, GridRun, SeedResult, SweepPlan, parse_matrix
from tests.conftest import small_scenario


def plan(*matrix: str, seeds: Sequence[int] = (1, 2, 3), name: str = "small") -> SweepPlan:
    return SweepPlan.build(small_scenario(f"name={name}"), parse_matrix(matrix), seeds)


def run(cell: Cell, seed: int, violated: Sequence[str] = (), **measures: float | None) -> GridRun:
    """A run of ``cell`` with ``seed``: every measure 1.0 unless given."""
    values = {name: 1.0 for name in MEASURES} | measures
    result = SeedResult(
        seed=seed, trace_sha256=f"{seed:064x}", violated=tuple(violated), confirmed=3,
        time_to_convergence=values["time_to_convergence_s"], wall_seconds=0.5,
        first_violations=tuple(f"{name}: broken in seed {seed}" for name in violated), measures=values,
    )
    return GridRun(cell.values, result)


def result(sweep_plan: SweepPlan, runs: Sequence[GridRun]) -> GridResult:
    return GridResult(sweep_plan, list(runs))
