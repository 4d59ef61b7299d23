"""The planted-defects measurements' results, and the Markdown table ``bench/planted_defects.py``
prints of them: for each defect, its witness run against the clean copy's, the property suite and
``concertsim explore`` on each flow it affects, then the catch rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from defects import FLOWS

__all__ = ["WITNESS_BASE", "SuiteResult", "ExploreResult", "WitnessResult", "DefectResult", "table", "witness_cell"]

WITNESS_BASE = "small-opening"
"""The scenario of a defect's witness and search, unless the defect names its own."""


@dataclass
class SuiteResult:
    """The property suite against one copy: ``caught`` means it failed (exit code 1)."""

    exit_code: int
    caught: bool
    seconds: float
    first_failure: str | None


@dataclass
class ExploreResult:
    """``concertsim explore`` on one flow: ``caught`` means it found a counterexample."""

    flow: str
    exit_code: int
    caught: bool
    examples_to_failure: int | None
    examples_generated: int | None
    violated: list[str]
    seconds: float


@dataclass
class WitnessResult:
    """A defect's witness scenario in a clean copy and in the planted copy. ``changes`` is True
    when the trace or the verdicts differ."""

    trace_differs: bool
    clean_violated: list[str]
    violated: list[str]
    clean_observed: dict[str, float]
    observed: dict[str, float]

    @property
    def changes(self) -> bool:
        return self.trace_differs or self.violated != self.clean_violated


@dataclass
class DefectResult:
    """Everything measured for one defect (or, with ``defect`` None, for the clean copy)."""

    id: str
    path: str
    flows: tuple[str, ...]
    scenario: str = WITNESS_BASE
    witness: WitnessResult | None = None
    suite: SuiteResult | None = None
    explore: list[ExploreResult] = field(default_factory=list)

    @property
    def caught_by_suite(self) -> bool:
        return self.suite is not None and self.suite.caught

    @property
    def caught_by_explore(self) -> bool:
        return any(e.caught for e in self.explore)

    @property
    def escapes(self) -> bool:
        return not (self.caught_by_suite or self.caught_by_explore)


def _suite_cell(result: DefectResult) -> str:
    if result.suite is None:
        return "–"
    return f"{'y' if result.suite.caught else 'n'} ({result.suite.seconds:.0f} s)"


def _explore_cell(result: DefectResult, flow: str) -> str:
    found = next((e for e in result.explore if e.flow == flow), None)
    if found is None:
        return "–"
    return f"y ({found.examples_to_failure})" if found.caught else "n"


def witness_cell(result: DefectResult) -> str:
    """What the witness showed: NO CHANGE, the invariants it broke, or what a buyer would see differ."""
    witness = result.witness
    if witness is None:
        return "–"
    if not witness.changes:
        return "NO CHANGE"
    if witness.violated != witness.clean_violated:
        return ", ".join(witness.violated) or "holds"
    changed = [
        f"{name} {witness.clean_observed[name]:g} → {value:g}"
        for name, value in witness.observed.items() if value != witness.clean_observed.get(name)
    ]
    return "holds; " + (", ".join(changed) if changed else "the trace differs")


def table(results: Sequence[DefectResult]) -> str:
    """The results as a Markdown table, then the catch rates."""
    lines = [
        "| defect | file | scenario | flows | witness run | property suite | explore sync | "
        "explore choreography | explore orchestration |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        path = r.path.removeprefix("concertsim/")
        explored = " | ".join(_explore_cell(r, flow) for flow in FLOWS)
        lines.append(
            f"| `{r.id}` | {path} | {r.scenario} | {', '.join(r.flows)} | {witness_cell(r)} | "
            f"{_suite_cell(r)} | {explored} |"
        )
    planted_results = [r for r in results if r.id != "(none)"]
    n = len(planted_results)
    witnessed = [r for r in planted_results if r.witness is not None]
    if witnessed:
        harmful = [r.id for r in witnessed if set(r.witness.violated) - set(r.witness.clean_violated)]
        lines.append("")
        lines.append(
            f"witness breaks an invariant the clean copy keeps: {len(harmful)}/{len(witnessed)}; "
            f"not shown harmful: {', '.join(r.id for r in witnessed if r.id not in harmful) or 'none'}"
        )
    if n and all(r.suite is not None for r in planted_results):
        by_suite = sum(r.caught_by_suite for r in planted_results)
        by_explore = sum(r.caught_by_explore for r in planted_results)
        either = sum(not r.escapes for r in planted_results)
        lines.append("")
        lines.append(
            f"caught: property suite {by_suite}/{n}, explore {by_explore}/{n}, "
            f"either {either}/{n} ({100 * either / n:.0f}%)"
        )
        escapes = [r.id for r in planted_results if r.escapes]
        lines.append(f"escapes: {', '.join(escapes) if escapes else 'none'}")
    return "\n".join(lines)
