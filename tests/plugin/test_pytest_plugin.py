"""The pytest plugin is picked up by a plain ``pytest`` run in a project that only installed
concertsim: the fixture passes a scenario that holds, fails one that breaks a promise with a
scenario file that replays it, and Hypothesis runs under the shipped CI profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRATCH_TESTS = '''
from hypothesis import given, settings, strategies as st

from concertsim.pytest_plugin import CI_PROFILE
from concertsim.strategies import scenarios, small_base


def test_the_small_opening_holds(concertsim):
    outcome = concertsim.assert_holds("small-opening", overrides=["workload.users=5"])
    assert outcome.holds


def test_without_compensation_a_lost_reply_orphans_a_deduction(concertsim):
    concertsim.assert_holds(HERE / "broken.yaml")


@given(st.integers())
def test_hypothesis_runs_under_the_shipped_profile(n):
    assert settings.default.derandomize and settings.default.database is None


@settings(max_examples=60)
@given(scenarios(small_base().model_copy(update={"design": small_base().design.model_copy(update={"compensation": False})})))
def test_a_property_over_generated_schedules_writes_its_counterexample(concertsim, scenario):
    concertsim.assert_holds(scenario)
'''

CASE = Path(__file__).parents[1] / "properties" / "cases" / "reply-lost-after-deduction.yaml"
BROKEN = CASE.read_text().replace("name: reply-lost-after-deduction", "name: broken") + "design:\n  compensation: false\n"


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )


def test_a_scratch_project_gets_the_fixture_the_profile_and_replayable_counterexamples(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "test_scratch.py").write_text(
        "from pathlib import Path\nHERE = Path(__file__).parent\n" + SCRATCH_TESTS)
    ran = run_pytest(tmp_path)
    assert "2 failed, 2 passed" in ran.stdout, ran.stdout + ran.stderr
    assert "no-orphaned-deduction" in ran.stdout  # the broken promise, by name
    written = sorted((tmp_path / ".concertsim" / "counterexamples").glob("broken-*.yaml"))
    assert len(written) == 1 and f"concertsim replay {written[0]}" in ran.stdout
    found = sorted((tmp_path / ".concertsim" / "counterexamples").glob("small-opening-*.yaml"))
    assert len(found) == 1 and f"concertsim replay {found[0]}" in ran.stdout  # only the example Hypothesis reports
    replayed = subprocess.run([sys.executable, "-m", "concertsim.cli", "replay", str(written[0]), "--quiet",
                               "--out", str(tmp_path / "replayed")], capture_output=True, text=True, timeout=300)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr  # the recording reproduced: it violates


def test_the_counterexample_directory_is_the_users_choice(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "test_scratch.py").write_text(
        "from pathlib import Path\nHERE = Path(__file__).parent\n" + SCRATCH_TESTS)
    run_pytest(tmp_path, "--concertsim-dir", "found", "-k", "lost_reply")
    assert len(list((tmp_path / "found").glob("broken-*.yaml"))) == 1


def test_a_misspelt_profile_in_the_pytest_configuration_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nconcertsim_hypothesis_profile = concertsim-cii\n")
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    ran = run_pytest(tmp_path)
    assert ran.returncode == 4, ran.stdout + ran.stderr  # pytest's usage error, not INTERNALERROR (3)
    assert "INTERNALERROR" not in ran.stdout + ran.stderr
    assert "concertsim_hypothesis_profile = concertsim-cii: no Hypothesis profile of that name" in ran.stderr


def test_a_broken_promise_is_reported_even_where_its_scenario_cannot_be_written(tmp_path: Path) -> None:
    from concertsim.testing import PromiseBroken, assert_holds

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    case = tmp_path / "broken.yaml"
    case.write_text(BROKEN)
    try:
        assert_holds(case, counterexample_dir=blocked / "counterexamples")
    except PromiseBroken as broken:
        message = str(broken)
    else:
        raise AssertionError("the broken scenario passed")
    assert "no-orphaned-deduction" in message
    assert "could not be written to" in message and "--concertsim-dir" in message
