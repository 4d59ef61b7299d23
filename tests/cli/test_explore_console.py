"""What ``concertsim explore`` prints about its search: the runs the shrinking took are counted
apart from the search's examples, some of which repeat an earlier round's and are not run again."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.progress import Progress

from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.cli.explore import SearchWatch, _print_exploration
from concertsim.exploration import Exploration
from concertsim.search.minimize import Minimization
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

EXAMPLES, REPEATED, SHRINK_RUNS = 500, 60, 14


def shrunk(minimization: Minimization | None) -> Exploration:
    """A search that failed at its last example after repeating 60 of an earlier round's, then
    spent 14 runs shrinking: 454 simulations for 500 examples."""
    scenario = small_scenario()
    return Exploration(
        base=scenario, examples_requested=EXAMPLES, runs=EXAMPLES - REPEATED + SHRINK_RUNS, generated=EXAMPLES,
        repeated=REPEATED, examples_to_failure=EXAMPLES, minimization=minimization,
    )


def test_the_console_counts_the_shrinking_runs_not_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = small_scenario()
    result = run_scenario(scenario)
    found = shrunk(Minimization(scenario, runs=SHRINK_RUNS, one_minimal=True))
    found.counterexample = scenario
    found.outcome = RunOutcome(result, check_run(result))
    _print_exploration(found, Path("out"))
    printed = " ".join(capsys.readouterr().out.split())
    assert f"counterexample after {EXAMPLES} example(s), shrunk in {SHRINK_RUNS} more runs to" in printed


def test_the_progress_while_shrinking_counts_the_shrinking_runs() -> None:
    progress = Progress()
    watch = SearchWatch(EXAMPLES, progress)
    found = shrunk(None)
    watch(found)
    assert progress.tasks[0].description == (
        f"shrinking the failure of example {EXAMPLES} (shrinking run {SHRINK_RUNS})"
    )
