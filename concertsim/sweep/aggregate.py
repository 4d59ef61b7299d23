"""What a grid sweep found, per cell: how often each invariant broke in the runs that judged it
(a Wilson 95% interval of the rate; a run that could not judge it counts neither way) and each headline measure's mean (a Student-t 95% interval over the seeds).

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
from concertsim.sweep.runs import SeedResult

__all__ = ["InvariantRate", "CellSummary", "GridResult", "invariant_rate", "summarise_cell"]


@dataclass(frozen=True)
class InvariantRate:
    """How many of the ``runs`` that judged ``invariant`` broke it (the seeds), with the Wilson
    interval of the rate. The runs that could not judge it (``not_applicable``, their seeds, with
    the first such run's ``reason``) count neither as held nor as broken; when no run judged it,
    ``runs`` is 0, ``rate`` None and the invariant is not applicable to the cell."""

    invariant: str
    broken_seeds: tuple[int, ...]
    runs: int
    rate: Interval | None
    not_applicable: tuple[int, ...] = ()
    reason: str | None = None

    @property
    def violated(self) -> int:
        return len(self.broken_seeds)

    @property
    def applicable(self) -> bool:
        """Whether some run judged it."""
        return self.runs > 0

    @property
    def status(self) -> str:
        return "violated" if self.violated else "holds" if self.applicable else "not_applicable"

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "violated": self.violated, "runs": self.runs,
                "seeds": list(self.broken_seeds), "rate": None if self.rate is None else self.rate.to_json(),
                "not_applicable": len(self.not_applicable), "not_applicable_seeds": list(self.not_applicable),
                "reason": self.reason}


def invariant_rate(invariant: str, results: Iterable[SeedResult]) -> InvariantRate:
    """``invariant``'s rate over ``results`` (by seed): the seeds that broke it, of the runs that
    judged it."""
    ordered = sorted(results, key=lambda r: r.seed)
    judged = [r for r in ordered if r.judged(invariant)]
    unjudged = [r for r in ordered if not r.judged(invariant)]
    broken = tuple(r.seed for r in judged if invariant in r.violated)
    return InvariantRate(invariant, broken, len(judged), rate_interval(len(broken), len(judged)),
                         tuple(r.seed for r in unjudged), unjudged[0].not_applicable[invariant] if unjudged else None)


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
        """No run of the cell broke an invariant."""
        return all(rate.violated == 0 for rate in self.rates.values())

    @property
    def not_applicable(self) -> list[InvariantRate]:
        """The invariants no run of the cell could judge."""
        return [rate for rate in self.rates.values() if not rate.applicable]

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
            "not_applicable": {rate.invariant: rate.reason for rate in self.not_applicable},
            "invariants": {name: rate.to_json() for name, rate in self.rates.items()},
            "measures": {name: None if i is None else i.to_json() for name, i in self.measures.items()},
            "seeds": [
                {"seed": run.result.seed, "trace_sha256": run.result.trace_sha256,
                 "violated": list(run.result.violated), "first_violations": list(run.result.first_violations),
                 "not_applicable": dict(run.result.not_applicable)}
                for run in self.runs
            ],
        }


def summarise_cell(cell: Cell, runs: Iterable[GridRun]) -> CellSummary:
    """The aggregate of ``cell``'s ``runs`` (any order; each seed once)."""
    ordered = tuple(sorted(runs, key=lambda run: run.result.seed))
    checked = cell.scenario.enabled_checks()
    extra = [i for run in ordered for i in run.result.violated if i not in checked]
    rates: dict[str, InvariantRate] = {}
    if ordered:
        for invariant in (*checked, *dict.fromkeys(extra)):
            rates[invariant] = invariant_rate(invariant, (run.result for run in ordered))
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
        which invariants, and in which cells no run could judge one), and each cell's aggregate and runs. No wall-clock time: an interrupted
        and resumed sweep gives the same summary as one that ran through."""
        plan = self.plan
        broken: dict[str, list[str]] = {}
        unjudged: dict[str, list[str]] = {}
        for cell in self.cells:
            for rate in cell.broken:
                broken.setdefault(rate.invariant, []).append(cell.cell.label or plan.base.name)
            for rate in cell.not_applicable:
                unjudged.setdefault(rate.invariant, []).append(cell.cell.label or plan.base.name)
        return {
            "scenario": plan.base.name,
            "fingerprint": plan.fingerprint,
            "matrix": {axis.key: list(axis.values) for axis in plan.axes},
            "seeds": list(plan.seeds),
            "runs": len(self.runs),
            "holds": self.holds,
            "violated": {name: broken[name] for name in self.broken_invariants()},
            "not_applicable": unjudged,
            "measures": dict(MEASURES),
            "cells": [cell.to_json() for cell in self.cells],
        }

