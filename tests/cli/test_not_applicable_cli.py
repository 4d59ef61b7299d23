"""What the command line says of an invariant a run could not judge: n/a with the reason in the
terminal's table and verdict line, ``status: not_applicable`` in summary.json, a skipped JUnit test
case and a ➖ row of the GitHub step summary; never "holds"."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

from concertsim.exploration import Exploration
from concertsim.reports.exports.junit import exploration_cases, junit_xml, step_summary
from concertsim.scenarios.loader import load_builtin
from concertsim.scenarios.schema import INVARIANT_IDS
from tests.cli.invoking import cli, flat

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "junit.xsd")
RUN = ["run", "small-opening", "--set", "workload.users=6"]
NO_SHIFT = "no traffic shift to the split-out Point (design.point_shift=0)"


def test_the_terminal_counts_the_invariants_not_applicable_apart_from_those_that_hold(tmp_path: Path) -> None:
    done = cli(*RUN, "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    unjudged = summary["not_applicable"]
    held = [entry["id"] for entry in summary["invariants"] if entry["status"] == "holds"]
    assert "point-stores-agree" in unjudged and len(held) + len(unjudged) == len(INVARIANT_IDS)
    shown = flat(done.stdout)
    assert f"{len(held)} invariants hold, {len(unjudged)} not applicable ({', '.join(unjudged)})" in shown
    assert "all invariants hold" not in shown
    row = next(line for line in done.stdout.splitlines() if "point-stores-agree" in line)
    assert "n/a" in row and "holds" not in row


def test_junit_skips_an_invariant_not_applicable_with_the_reason(tmp_path: Path) -> None:
    junit = tmp_path / "run.xml"
    done = cli(*RUN, "--quiet", "--out", str(tmp_path / "out"), "--junit", str(junit))
    assert done.exit_code == 0, done.output
    SCHEMA.validate(str(junit))
    root = ET.parse(junit).getroot()
    found = {case.get("name"): case for case in root.iter("testcase")}
    skipped = {name: case.find("skipped") for name, case in found.items() if case.find("skipped") is not None}
    assert skipped["point-stores-agree"].get("message") == f"not applicable: {NO_SHIFT}"
    assert found["no-double-booking"].find("skipped") is None
    assert root.find("testsuite").get("skipped") == str(len(skipped))


def test_the_step_summary_lists_not_applicable_cases_apart_from_the_passed() -> None:
    from concertsim.reports.exports.junit import Case

    cases = [Case("c", "kept"), Case("c", "unjudged", skipped=f"not applicable: {NO_SHIFT}")]
    table = step_summary("run", cases)
    assert "**1 passed**, 1 not applicable" in table
    assert f"| ➖ | unjudged | not applicable: {NO_SHIFT} |" in table and "| ✅ | unjudged" not in table


def test_a_search_that_never_judged_an_invariant_skips_it_instead_of_passing_it() -> None:
    found = Exploration(base=load_builtin("small-opening"), examples_requested=3, generated=3, runs=3,
                        invariants=("no-double-booking", "point-stores-agree"))
    found.not_applicable.update(["point-stores-agree"] * 3)
    found.not_applicable_reasons["point-stores-agree"] = NO_SHIFT
    assert found.never_judged() == {"point-stores-agree": NO_SHIFT}
    xml = junit_xml("explore", exploration_cases(found, "c", "replay"))
    root = ET.fromstring(xml)
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert cases["point-stores-agree"].find("skipped").get("message") == (
        f"not applicable in every example: {NO_SHIFT}")
    assert cases["no-double-booking"].find("skipped") is None and cases["no-double-booking"].find("failure") is None


def test_an_ablation_cell_whose_protected_promise_was_never_judged_says_so() -> None:
    from concertsim.ablation import SAFEGUARDS, AblationRow
    from concertsim.reports.exports.junit import ablation_cases

    safeguard = next(s for s in SAFEGUARDS if s.switch == "design.idempotency_keys=false")
    unjudged = "no-orphaned-deduction"
    found = Exploration(base=load_builtin("small-opening"), examples_requested=5, generated=5, runs=5,
                        invariants=(unjudged,))
    found.not_applicable.update([unjudged] * 5)
    found.not_applicable_reasons[unjudged] = "no points were deducted and no reservation was confirmed"
    row = AblationRow(safeguard, "sync", found)
    assert row.never_judged == [unjudged]
    (case,) = ablation_cases([row], "c", lambda r: "replay")
    assert case.failure is not None and f"no example could judge {unjudged} (not applicable in every one)" in case.failure
