"""``--junit`` writes a verdict CI servers read: valid JUnit XML, a test case per invariant, a
failure with its evidence and replay command; ``$GITHUB_STEP_SUMMARY`` gets a Markdown table."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from typer.testing import CliRunner

from concertsim.cli import app
from concertsim.scenarios.schema import INVARIANT_IDS

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "junit.xsd")
LOST_REPLY = Path(__file__).parents[1] / "properties" / "cases" / "reply-lost-after-deduction.yaml"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def cases(path: Path) -> dict[str, ET.Element]:
    SCHEMA.validate(str(path))
    return {case.get("name"): case for case in ET.parse(path).getroot().iter("testcase")}


def test_a_violating_run_fails_the_cases_of_its_broken_invariants_with_evidence_and_replay(tmp_path: Path) -> None:
    junit, summary = tmp_path / "run.xml", tmp_path / "summary.md"
    done = invoke("run", str(LOST_REPLY), "--set", "design.compensation=false", "--quiet",
                  "--out", str(tmp_path / "out"), "--junit", str(junit), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.exit_code == 1, done.output
    found = cases(junit)
    failed = {name for name, case in found.items() if case.find("failure") is not None}
    assert failed == {"no-orphaned-deduction", "client-outcomes-honoured"}
    assert len(found) == len(INVARIANT_IDS)
    body = found["no-orphaned-deduction"].find("failure").text
    assert "evidence:" in body and "trace records:" in body
    assert f"replay: concertsim run {LOST_REPLY} --seed 1 --set design.compensation=false" in body
    table = summary.read_text()
    assert f"**2 of {len(INVARIANT_IDS)} failed**" in table and "| ❌ | no-orphaned-deduction |" in table


def test_a_green_exploration_writes_passing_cases_and_a_red_one_its_counterexample(tmp_path: Path) -> None:
    green = tmp_path / "green.xml"
    assert invoke("explore", "-n", "5", "--quiet", "--out", str(tmp_path / "g"), "--junit", str(green)).exit_code == 0
    assert all(case.find("failure") is None for case in cases(green).values())
    red = tmp_path / "red.xml"
    done = invoke("explore", "-n", "60", "--set", "design.compensation=false", "--quiet",
                  "--out", str(tmp_path / "r"), "--junit", str(red))
    assert done.exit_code == 1
    failures = [case.find("failure").text for case in cases(red).values() if case.find("failure") is not None]
    assert failures and all(f"concertsim replay {tmp_path / 'r' / 'counterexample.yaml'}" in text for text in failures)


@pytest.mark.parametrize("where", ["missing/run.xml", "."])
def test_a_junit_file_that_cannot_be_written_is_refused_before_the_run(tmp_path: Path, where: str) -> None:
    done = invoke("run", "small-opening", "--quiet", "--out", str(tmp_path / "out"), "--junit", str(tmp_path / where))
    assert done.exit_code == 2 and "--junit" in done.output
    assert not (tmp_path / "out").exists()


def test_the_schema_refuses_what_is_not_junit(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.xml"
    bogus.write_text('<testsuites><testsuite name="x"><testcase name="y"/></testsuite></testsuites>')
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(str(bogus))


def test_an_ablation_writes_a_case_per_cell_passing_when_the_safeguard_was_shown_to_matter(tmp_path: Path) -> None:
    junit = tmp_path / "ablate.xml"
    done = invoke("ablate", "--only", "design.compensation=false", "--flows", "sync", "-n", "60", "--quiet",
                  "--out", str(tmp_path / "a"), "--junit", str(junit))
    assert done.exit_code == 0, done.output
    found = cases(junit)
    assert list(found) == ["design.compensation=false (sync)"]
    assert found["design.compensation=false (sync)"].find("failure") is None


def test_a_comparison_fails_the_invariants_either_side_broke_with_the_seeds_to_replay(tmp_path: Path) -> None:
    junit = tmp_path / "compare.xml"
    done = invoke("compare", str(LOST_REPLY), "--set-b", "design.compensation=false", "--seeds", "2", "--workers", "1",
                  "--quiet", "--out", str(tmp_path / "c"), "--junit", str(junit))
    assert done.exit_code == 1, done.output
    failed = {name: case.find("failure") for name, case in cases(junit).items() if case.find("failure") is not None}
    assert set(failed) == {"no-orphaned-deduction", "client-outcomes-honoured"}
    assert f"replay: concertsim run {LOST_REPLY} --seed 1 --set design.compensation=false" in failed["no-orphaned-deduction"].text
