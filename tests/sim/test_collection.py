"""The collector's passes are rare while a run is simulated and while it is read (checks, metrics,
the trace's hash, the report), and the thresholds found are restored afterwards."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import concertsim.checks as checks_package
import concertsim.metrics.summary as summary_module
from concertsim import api
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.run import report as report_module
from concertsim.sim.infrastructure import spill_files
from concertsim.sim.infrastructure.collection import RARE_THRESHOLDS, rare_collection
from tests.conftest import small_scenario


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    found = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*found)


def test_rare_collection_restores_the_thresholds_it_found_even_on_an_error() -> None:
    with pytest.raises(ZeroDivisionError):
        with rare_collection():
            assert gc.get_threshold() == RARE_THRESHOLDS
            with rare_collection():
                pass
            assert gc.get_threshold() == RARE_THRESHOLDS  # a nested use keeps them
            1 / 0
    assert gc.get_threshold() == (700, 10, 10)


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, seen: list[tuple[int, ...]]) -> None:
    """Record the thresholds in force whenever ``module.name`` is called."""
    original: Callable[..., Any] = getattr(module, name)

    def spied(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spied)


def test_reading_a_run_makes_the_collectors_passes_rare(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    seen: dict[str, list[tuple[int, ...]]] = {"checks": [], "metrics": [], "hash": [], "report": []}
    _spy(monkeypatch, checks_package, "judge", seen["checks"])
    _spy(monkeypatch, summary_module, "funnel", seen["metrics"])
    _spy(monkeypatch, spill_files, "record_to_json", seen["hash"])
    _spy(monkeypatch, report_module, "invariant_table", seen["report"])
    outcome = api.run(small_scenario("workload.users=20"), trace_mode="stream")
    outcome.metrics
    outcome.result.trace.sha256()
    report_module.write_run_report(OutputDir(tmp_path).prepare(), outcome)
    outcome.result.trace.close()
    assert {phase: set(thresholds) for phase, thresholds in seen.items()} == {
        phase: {RARE_THRESHOLDS} for phase in seen}
    assert gc.get_threshold() == (700, 10, 10)
