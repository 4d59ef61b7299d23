"""A search is a function of (scenario, options, seed, budget): the same examples, counterexample
and trace hash from the checkout and from an installed copy, under any PYTHONHASHSEED, for one
worker or several; a smaller budget's examples are a prefix of a larger budget's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from concertsim.ablation import ablated
from concertsim.exploration import explore
from concertsim.sim.run.runner import run_scenario
from concertsim.strategies import small_base

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import hashlib, json, sys
import concertsim
from concertsim.ablation import ablated
from concertsim.exploration import explore
from concertsim.sim.run.runner import run_scenario
from concertsim.strategies import small_base
found = explore(ablated(small_base(), "design.compensation=false", "sync"), examples=150, seed=0)
print(json.dumps({
    "imported_from": concertsim.__file__,
    "examples": found.example_digests,
    "counterexample": found.counterexample.model_dump(mode="json") if found.counterexample else None,
    "trace_sha256": found.outcome.result.trace_sha256 if found.outcome else None,
    "runs": found.runs,
}))
"""


def search_in_subprocess(pythonpath: Path, cwd: Path, hash_seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(pythonpath)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_search_is_the_same_from_the_checkout_and_from_an_installed_copy(tmp_path: Path) -> None:
    # Hypothesis treats modules outside site-packages as the user's own code and mines constants
    # from them, so the checkout and an installed copy are the two cases that must agree.
    site_packages = tmp_path / "lib" / "site-packages"
    shutil.copytree(ROOT / "concertsim", site_packages / "concertsim",
                    ignore=shutil.ignore_patterns("__pycache__"))
    from_checkout = search_in_subprocess(ROOT, ROOT, "0")
    from_install = search_in_subprocess(site_packages, tmp_path, "4242")

    assert Path(from_checkout["imported_from"]).is_relative_to(ROOT)
    assert Path(from_install["imported_from"]).is_relative_to(site_packages)
    assert from_checkout["counterexample"] is not None, "the ablated design should break within 150 examples"
    assert from_install["examples"] == from_checkout["examples"]
    assert from_install["counterexample"] == from_checkout["counterexample"]
    assert from_install["trace_sha256"] == from_checkout["trace_sha256"]
    assert from_install["runs"] == from_checkout["runs"], "shrinking took another path"
    assert search_in_subprocess(ROOT, ROOT, "random") == from_checkout


def test_a_smaller_budget_tries_a_prefix_of_a_larger_budgets_examples() -> None:
    base = small_base()
    smaller = explore(base, examples=30, seed=3)
    larger = explore(base, examples=80, seed=3)
    assert len(smaller.example_digests) > 25, "a budget of 30 crosses a round boundary"
    assert larger.example_digests[: len(smaller.example_digests)] == smaller.example_digests
    assert len(larger.example_digests) > len(smaller.example_digests)


def test_fewer_examples_than_asked_are_explained() -> None:
    found = explore(ablated(small_base(), "design.compensation=false", "sync"), examples=150, seed=0)
    assert found.examples_to_failure is not None
    assert f"stopped at the first failure, example {found.examples_to_failure}" in found.budget_note()


@pytest.mark.parametrize("workers", [2])
def test_workers_find_the_same_counterexample_as_one_process(workers: int) -> None:
    design = ablated(small_base(), "design.compensation=false", "sync")
    alone = explore(design, examples=150, seed=0)
    shared = explore(design, examples=150, seed=0, workers=workers)
    assert shared.example_digests == alone.example_digests
    assert shared.counterexample == alone.counterexample
    assert shared.examples_to_failure == alone.examples_to_failure


def test_a_simulation_that_raises_is_a_failure_shrunk_like_any_other(monkeypatch: pytest.MonkeyPatch) -> None:
    from concertsim import exploration
    from concertsim.search import rounds

    def fragile(scenario, seed=None, **options):  # a simulator bug: any broker crash raises
        if any(f.kind == "crash" and f.target == "broker" for f in scenario.faults):
            raise KeyError("broker")
        return run_scenario(scenario, seed, **options)

    monkeypatch.setattr(rounds, "_known", {})
    monkeypatch.setattr(rounds, "run_scenario", fragile)
    monkeypatch.setattr(exploration, "run_scenario", fragile)
    with pytest.raises(exploration.SimulationCrash) as crash:
        explore(small_base(), examples=200, seed=0, kinds=("crash",))
    (fault,) = crash.value.scenario.faults
    assert (fault.kind, fault.target) == ("crash", "broker")
    assert crash.value.scenario.workload.users == 1
