"""Verdicts for CI servers: JUnit XML, and a Markdown table for GitHub's step summary.

One test case per invariant (``run``, ``explore``), per ablation cell (``ablate``) or per compared
invariant (``compare``); a case fails with its evidence and the command that replays it, so any
CI server that reads JUnit XML shows which promise broke. The XML follows the Ant/Jenkins JUnit
format (``testsuites`` > ``testsuite`` > ``testcase`` > ``failure``) and holds no wall-clock
times, so the same verdict always writes the same file.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from concertsim.ablation import AblationRow
from concertsim.api import RunOutcome
from concertsim.comparison import Comparison
from concertsim.exploration import Exploration

__all__ = ["Case", "junit_xml", "run_cases", "exploration_cases", "ablation_cases", "comparison_cases", "write_junit", "step_summary", "append_step_summary"]


@dataclass(frozen=True)
class Case:
    """One test case: ``failure`` is None when it passed; ``details`` is the failure's body."""

    classname: str
    name: str
    failure: str | None = None
    details: str = ""


def run_cases(outcome: RunOutcome, classname: str, replay: str) -> list[Case]:
    """One case per enabled invariant of a run; a violated one carries its first violations with
    their evidence and trace records, and ``replay`` (the command that reproduces the run)."""
    cases = []
    for verdict in outcome.verdicts:
        if verdict.holds:
            cases.append(Case(classname, verdict.invariant.id))
            continue
        shown = verdict.violations[:5]
        lines = [f"promise: {verdict.invariant.promise}", ""]
        for violation in shown:
            lines.append(f"- {violation.message}" + (f" (at {violation.at:.3f} s)" if violation.at is not None else ""))
            if violation.evidence:
                lines.append(f"  evidence: {json.dumps(violation.evidence, sort_keys=True, default=str)}")
            if violation.records:
                lines.append(f"  trace records: {', '.join(map(str, violation.records[:20]))}")
        if len(verdict.violations) > len(shown):
            lines.append(f"... and {len(verdict.violations) - len(shown)} more")
        lines += ["", f"replay: {replay}"]
        first = verdict.violations[0].message
        cases.append(Case(classname, verdict.invariant.id,
                          f"{len(verdict.violations)} violation(s); first: {first}", "\n".join(lines)))
    return cases


def exploration_cases(found: Exploration, classname: str, replay: str) -> list[Case]:
    """One case per invariant the search judged: the counterexample's verdicts if it found one
    (``replay`` replays it), else every enabled invariant passed within the budget."""
    if found.outcome is not None:
        return run_cases(found.outcome, classname, replay)
    return [Case(classname, invariant) for invariant in found.base.enabled_checks()]


def ablation_cases(rows: Sequence[AblationRow], classname: str, replay_for: Callable[[AblationRow], str]) -> list[Case]:
    """One case per ablation cell (a safeguard switched off in one flow): it passes when the result
    is what the design documents (the search broke a promise the safeguard keeps, or the safeguard
    is documented as redundant in that flow); ``replay_for`` gives a cell's replay command."""
    cases = []
    for row in rows:
        name = f"{row.safeguard.switch} ({row.flow})"
        if row.as_expected:
            cases.append(Case(classname, name))
            continue
        if row.caught:
            failure = f"documented as redundant in the {row.flow} flow, but switching it off broke {', '.join(row.broken)}"
            details = f"{failure}\n\nreplay: {replay_for(row)}"
        else:
            failure = (f"switched off, it broke nothing it protects ({', '.join(row.safeguard.protects)}) "
                       f"in {row.exploration.generated} examples")
            details = f"{failure}\n\n{row.exploration.budget_note() or ''}".rstrip()
        cases.append(Case(classname, name, failure, details))
    return cases


def comparison_cases(comparison: Comparison, classname: str) -> list[Case]:
    """One case per invariant compared: it fails when either side broke it in some seed, with
    each side's broken seeds, rate, Fisher's p and the commands that run those seeds again."""
    cases = []
    for invariant in comparison.invariants:
        sides = [(key, side, getattr(comparison.plan, key)) for key, side in (("a", invariant.a), ("b", invariant.b))]
        broken = [(key, side, plan) for key, side, plan in sides if side is not None and side.broken_seeds]
        if not broken:
            cases.append(Case(classname, invariant.id))
            continue
        lines = [f"promise: {invariant.promise}", ""]
        for key, side, plan in broken:
            lines.append(f"{key.upper()} ({plan.label}): broken in {len(side.broken_seeds)} of {side.runs} seeds "
                         f"({', '.join(map(str, side.broken_seeds))}), rate {side.rate.format(0, 100, '%')}")
            command = plan.run_command(side.broken_seeds[0])
            if command is not None:
                lines.append(f"  replay: {command}")
        if invariant.p_value is not None:
            lines.append(f"Fisher's exact test, A against B: p = {invariant.p_value:.3g}"
                         + (" (significant)" if invariant.significant else ""))
        failure = "; ".join(f"{key.upper()} broke it in {len(side.broken_seeds)} of {side.runs} seeds"
                            for key, side, _ in broken)
        cases.append(Case(classname, invariant.id, failure, "\n".join(lines)))
    return cases


def junit_xml(suite: str, cases: Sequence[Case]) -> str:
    """The JUnit XML document of one test suite named ``suite``."""
    failures = sum(1 for case in cases if case.failure is not None)
    root = ET.Element("testsuites", name="concertsim", tests=str(len(cases)), failures=str(failures), errors="0")
    element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                            errors="0", skipped="0")
    for case in cases:
        testcase = ET.SubElement(element, "testcase", classname=case.classname, name=case.name)
        if case.failure is not None:
            failure = ET.SubElement(testcase, "failure", message=case.failure, type="PromiseBroken")
            failure.text = case.details
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, suite: str, cases: Sequence[Case]) -> None:
    """Write :func:`junit_xml` to ``path`` (its folder must exist); raises ``OSError``."""
    path.write_text(junit_xml(suite, cases), encoding="utf-8")


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def step_summary(title: str, cases: Sequence[Case]) -> str:
    """A Markdown verdict table: one row per case, failures first."""
    failed = [case for case in cases if case.failure is not None]
    verdict = f"**{len(failed)} of {len(cases)} failed**" if failed else f"**all {len(cases)} passed**"
    lines = [f"### {_cell(title)}", "", verdict, "", "| | case | what broke |", "|---|---|---|"]
    for case in [*failed, *(c for c in cases if c.failure is None)]:
        mark = "❌" if case.failure is not None else "✅"
        lines.append(f"| {mark} | {_cell(case.name)} | {_cell(case.failure or '')} |")
    return "\n".join(lines) + "\n\n"


def append_step_summary(title: str, cases: Sequence[Case]) -> Path | None:
    """Append :func:`step_summary` to the file ``GITHUB_STEP_SUMMARY`` names, if it is set; returns
    the file written, or None. Raises ``OSError`` if it cannot be written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as summary:
        summary.write(step_summary(title, cases))
    return path
