"""Verdicts for CI servers: JUnit XML, and a Markdown table for GitHub's step summary.

One test case per invariant (``run``, ``explore``), per ablation cell (``ablate``) or per compared
invariant (``compare``); a case fails with its evidence and the command that replays it, so any
CI server that reads JUnit XML shows which promise broke; a promise the run could not judge (not
applicable) is a skipped case with the reason, neither passed nor failed. The XML follows the
Ant/Jenkins JUnit format (``testsuites`` > ``testsuite`` > ``testcase`` > ``failure`` or
``skipped``) and holds no wall-clock times, so the same verdict always writes the same file.
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
    """One test case: ``failure`` is None when it passed; ``details`` is the failure's body;
    ``skipped`` is the reason a promise could not be judged (not applicable: neither passed nor
    failed)."""

    classname: str
    name: str
    failure: str | None = None
    details: str = ""
    skipped: str | None = None


def run_cases(outcome: RunOutcome, classname: str, replay: str) -> list[Case]:
    """One case per enabled invariant of a run; a violated one carries its first violations with
    their evidence and trace records, and ``replay`` (the command that reproduces the run)."""
    cases = []
    for verdict in outcome.verdicts:
        if verdict.not_applicable is not None:
            cases.append(Case(classname, verdict.invariant.id, skipped=f"not applicable: {verdict.not_applicable}"))
            continue
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
    """One case per invariant searched for: the counterexample's verdicts if it found one
    (``replay`` replays it), else every enabled invariant passed within the budget, except one no
    example could judge, which is skipped as not applicable."""
    if found.outcome is not None:
        return run_cases(found.outcome, classname, replay)
    never = found.never_judged()
    return [Case(classname, invariant, skipped=f"not applicable in every example: {never[invariant]}")
            if invariant in never else Case(classname, invariant)
            for invariant in (found.invariants or found.base.enabled_checks())]


def ablation_cases(rows: Sequence[AblationRow], classname: str, replay_for: Callable[[AblationRow], str]) -> list[Case]:
    """One case per ablation cell (a safeguard switched off in one flow): it passes when the result
    is what the design documents (the search broke a promise the safeguard keeps, or the safeguard
    is documented as redundant in that flow); ``replay_for`` gives a cell's replay command."""
    cases = []
    for row in rows:
        name = f"{row.safeguard.name} ({row.flow})"
        if row.as_expected:
            cases.append(Case(classname, name))
            continue
        if row.caught:
            failure = f"documented as redundant in the {row.flow} flow, but switching it off broke {', '.join(row.broken)}"
            details = f"{failure}\n\nreplay: {replay_for(row)}"
        else:
            failure = (f"switched off, it broke nothing it protects ({', '.join(row.safeguard.protects)}) "
                       f"in {row.exploration.generated} examples")
            if row.never_judged:
                failure += f"; no example could judge {', '.join(row.never_judged)} (not applicable in every one)"
            details = f"{failure}\n\n{row.exploration.budget_note() or ''}".rstrip()
        cases.append(Case(classname, name, failure, details))
    return cases


def comparison_cases(comparison: Comparison, classname: str) -> list[Case]:
    """One case per invariant compared: it fails when either side broke it in some seed, with
    each side's broken seeds, rate, Fisher's p and the commands that run those seeds again; it is
    skipped when no seed of either side could judge it."""
    cases = []
    for invariant in comparison.invariants:
        sides = [(key, side, getattr(comparison.plan, key)) for key, side in (("a", invariant.a), ("b", invariant.b))]
        broken = [(key, side, plan) for key, side, plan in sides if side is not None and side.broken_seeds]
        checked = [(key, side) for key, side, _ in sides if side is not None]
        if not broken and all(not side.applicable for _, side in checked):
            reasons = "; ".join(f"{key.upper()}: {side.reason}" for key, side in checked)
            cases.append(Case(classname, invariant.id, skipped=f"not applicable ({reasons})"))
            continue
        if not broken:
            cases.append(Case(classname, invariant.id))
            continue
        lines = [f"promise: {invariant.promise}", ""]
        for key, side, plan in broken:
            assert side.rate is not None
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
    skipped = sum(1 for case in cases if case.failure is None and case.skipped is not None)
    root = ET.Element("testsuites", name="concertsim", tests=str(len(cases)), failures=str(failures), errors="0")
    element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                            errors="0", skipped=str(skipped))
    for case in cases:
        testcase = ET.SubElement(element, "testcase", classname=case.classname, name=case.name)
        if case.failure is not None:
            failure = ET.SubElement(testcase, "failure", message=case.failure, type="PromiseBroken")
            failure.text = case.details
        elif case.skipped is not None:
            ET.SubElement(testcase, "skipped", message=case.skipped)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, suite: str, cases: Sequence[Case]) -> None:
    """Write :func:`junit_xml` to ``path`` (its folder must exist); raises ``OSError``."""
    path.write_text(junit_xml(suite, cases), encoding="utf-8")


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def step_summary(title: str, cases: Sequence[Case]) -> str:
    """A Markdown verdict table: one row per case, failures first, cases not applicable (skipped)
    last with their reason; the verdict line counts the skipped ones apart from the passed."""
    failed = [case for case in cases if case.failure is not None]
    skipped = [case for case in cases if case.failure is None and case.skipped is not None]
    passed = [case for case in cases if case.failure is None and case.skipped is None]
    verdict = f"**{len(failed)} of {len(cases)} failed**" if failed else (
        f"**all {len(passed)} passed**" if not skipped else f"**{len(passed)} passed**")
    if skipped:
        verdict += f", {len(skipped)} not applicable"
    header = "| | case | what broke, or why not applicable |" if skipped else "| | case | what broke |"
    lines = [f"### {_cell(title)}", "", verdict, "", header, "|---|---|---|"]
    for case in failed:
        lines.append(f"| ❌ | {_cell(case.name)} | {_cell(case.failure or '')} |")
    for case in passed:
        lines.append(f"| ✅ | {_cell(case.name)} |  |")
    for case in skipped:
        lines.append(f"| ➖ | {_cell(case.name)} | {_cell(case.skipped or '')} |")
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
