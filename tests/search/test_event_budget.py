"""An example that runs long cannot stall a search: each may process a budget of simulated events,
and one that needs more is stopped and counted as over budget, neither a pass nor a violation, the
same for one worker or many."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from concertsim.ablation import ablated
from concertsim.cli import app
from concertsim.exploration import DEFAULT_MAX_EVENTS, explore
from concertsim.strategies import small_base

SOME_OVER = 3000
"""Stops about half of the first round of small_base() with seed 0 (506 to 6,578 events each)."""


def test_examples_over_the_event_budget_are_counted_and_neither_pass_nor_fail() -> None:
    free = explore(small_base(), examples=25, seed=0)
    capped = explore(small_base(), examples=25, seed=0, max_events=SOME_OVER)
    assert free.over_budget == 0 and free.max_events == DEFAULT_MAX_EVENTS
    assert 0 < capped.over_budget < capped.generated
    assert capped.example_digests == free.example_digests
    assert f"{capped.over_budget} example(s) over the budget of 3,000 simulated events" in capped.over_budget_note()


def test_a_failure_over_the_budget_is_not_a_counterexample() -> None:
    design = ablated(small_base(), "design.compensation=false", "sync")
    found = explore(design, examples=30, seed=0, max_events=50)
    assert not found.found and found.over_budget == found.generated == 30


def test_explore_reports_the_examples_over_budget_the_same_on_one_worker_and_two(tmp_path: Path) -> None:
    outputs = []
    for workers in ("1", "2"):
        done = CliRunner().invoke(app, ["explore", "-n", "30", "--max-events", str(SOME_OVER), "--workers", workers,
                                        "--json", "--out", str(tmp_path / workers)])
        assert done.exit_code == 0, done.output
        outputs.append(json.loads(done.stdout))
        written = json.loads((tmp_path / workers / "summary.json").read_text())
        assert written["examples_over_budget"] == outputs[-1]["examples_over_budget"]
        report = " ".join((tmp_path / workers / "report.md").read_text().split())
        assert "examples over the event budget" in report
        judged = outputs[-1]["examples_generated"] - outputs[-1]["examples_over_budget"]
        assert f"every invariant held in the {judged} judged examples" in report
        assert "stopped at the event budget were not judged" in report
    one, two = outputs
    assert one["max_events"] == SOME_OVER and one["examples_over_budget"] > 0
    for field in ("examples_over_budget", "examples_generated", "runs", "probes"):
        assert one[field] == two[field], field


def test_the_console_says_how_many_examples_hit_the_budget(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["explore", "-n", "25", "--max-events", str(SOME_OVER), "--out", str(tmp_path / "o")])
    assert done.exit_code == 0, done.output
    text = " ".join(done.stdout.split())
    assert "over the budget of 3,000 simulated events" in text
    assert "neither a pass nor a violation" in text
