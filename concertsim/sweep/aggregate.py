"""What a grid sweep found, per cell: how often each invariant broke (a Wilson 95% interval of
the rate) and each headline measure's mean (a Student-t 95% interval over the seeds).

Everything here is a function of the set of runs, not of the order they finished in nor of how
often the sweep was interrupted and resumed: the same plan gives the same ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from concertsim.metrics import MEASURES
from concertsim.statistics import Interval, mean_interval, rate_interval
from concertsim.sweep.grid import Cell, GridRun, SweepPlan

__all__ = ["InvariantRate", "CellSummary", "GridResult", "summarise_cell"]


@dataclass(frozen=True)
class InvariantRate:
    """How many of a cell's ``runs`` broke ``invariant`` (the seeds), with the Wilson interval of
    the rate."""

    invariant: str
    broken_seeds: tuple[int, ...]
    runs: int
    rate: Interval

    @property
    def violated(self) -> int:
        return len(self.broken_seeds)

    def to_json(self) -> dict[str, Any]:
        return {"violated": self.violated, "runs": self.runs, "seeds": list(self.broken_seeds),
                "rate": self.rate.to_json()}


@dataclass(frozen=True)
class CellSummary:
    """One cell's runs (by seed) and their aggregate. ``rates`` has every invariant the cell's
    scenario checks, in the checks' order; ``measures`` every headline measure (None where no
    run had a value)."""

    cell: Cell
    runs: tuple[GridRun, ...]
    rates: dict[str, InvariantRate]
    measures: dict[str, Interval | None]

    @property
    def holds(self) -> bool:
        return all(rate.violated == 0 for rate in self.rates.values())

    @property
    def broken(self) -> list[InvariantRate]:
        """The invariants some run of the cell broke."""
        return [rate for rate in self.rates.values() if rate.violated]

    def values(self, measure: str) -> list[float]:
        """``measure``'s value in each run that has one, by seed."""
        return [v for run in self.runs if (v := run.result.measures.get(measure)) is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell.values,
            "label": self.cell.label,
            "runs": len(self.runs),
            "holds": self.holds,
            "violated": [rate.invariant for rate in self.broken],
            "invariants": {name: rate.to_json() for name, rate in self.rates.items()},
            "measures": {name: None if i is None else i.to_json() for name, i in self.measures.items()},
            "seeds": [
                {"seed": run.result.seed, "trace_sha256": run.result.trace_sha256,
                 "violated": list(run.result.violated), "first_violations": list(run.result.first_violations)}
                for run in self.runs
            ],
        }


def summarise_cell(cell: Cell, runs: Iterable[GridRun]) -> CellSummary:
    """The aggregate of ``cell``'s ``runs`` (any order; each seed once)."""
    ordered = tuple(sorted(runs, key=lambda run: run.result.seed))
    checked = cell.scenario.enabled_checks()
    extra = [i for run in ordered for i in run.result.violated if i not in checked]
    rates: dict[str, InvariantRate] = {}
    for invariant in (*checked, *dict.fromkeys(extra)):
        broken = tuple(run.result.seed for run in ordered if invariant in run.result.violated)
        interval = rate_interval(len(broken), len(ordered))
        if interval is not None:
            rates[invariant] = InvariantRate(invariant, broken, len(ordered), interval)
    measures = {
        name: mean_interval([v for run in ordered if (v := run.result.measures.get(name)) is not None])
        for name in MEASURES
    }
    return CellSummary(cell, ordered, rates, measures)


@dataclass
class GridResult:
    """A finished grid sweep: the plan and every run (one per cell and seed)."""

    plan: SweepPlan
    runs: list[GridRun]

    @cached_property
    def cells(self) -> list[CellSummary]:
        """Each cell's aggregate, in the plan's order (cells without any run left out)."""
        by_cell: dict[str, list[GridRun]] = {}
        for run in self.runs:
            by_cell.setdefault(run.cell_key, []).append(run)
        return [summarise_cell(cell, by_cell[cell.key]) for cell in self.plan.cells if cell.key in by_cell]

    @property
    def holds(self) -> bool:
        return all(cell.holds for cell in self.cells)

    def broken_invariants(self) -> list[str]:
        """The invariants some run of some cell broke, in the checks' order."""
        seen: dict[str, None] = {}
        for cell in self.cells:
            for rate in cell.broken:
                seen.setdefault(rate.invariant, None)
        order = {name: i for i, name in enumerate(self.cells[0].rates)} if self.cells else {}
        return sorted(seen, key=lambda name: order.get(name, len(order)))

    def ordered_runs(self) -> list[GridRun]:
        """Every run, by cell in the plan's order, then by seed."""
        return [run for cell in self.cells for run in cell.runs]

    def frame(self) -> Any:
        """Every run as a pandas DataFrame (:func:`concertsim.frames.grid_frame`)."""
        from concertsim.frames import grid_frame

        return grid_frame(self)

    def to_json(self) -> dict[str, Any]:
        """The content of a sweep's ``summary.json``: the plan, the verdict (which cells broke
        which invariants), and each cell's aggregate and runs. No wall-clock time: an interrupted
        and resumed sweep gives the same summary as one that ran through."""
        plan = self.plan
        broken: dict[str, list[str]] = {}
        for cell in self.cells:
            for rate in cell.broken:
                broken.setdefault(rate.invariant, []).append(cell.cell.label or plan.base.name)
        return {
            "scenario": plan.base.name,
            "fingerprint": plan.fingerprint,
            "matrix": {axis.key: list(axis.values) for axis in plan.axes},
            "seeds": list(plan.seeds),
            "runs": len(self.runs),
            "holds": self.holds,
            "violated": {name: broken[name] for name in self.broken_invariants()},
            "measures": dict(MEASURES),
            "cells": [cell.to_json() for cell in self.cells],
        }

