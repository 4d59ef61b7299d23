"""``migrate`` tells what a split costs apart from what the scenario's faults do to it: every stage
of a faulted scenario also runs without its faults, and a stage that books almost nothing is named."""

from __future__ import annotations

from pathlib import Path

from concertsim.migration import run_migration
from concertsim.reports.migration.report import cost_text, thin_notes, verdict_text
from concertsim.scenarios.loader import load_builtin
from tests.cli.invoking import cli, flat

EVERY_REPLY_LOST = "faults=[{at: 0, kind: drop, target: reply, match: {message_type: point.use}}]"


def test_every_stage_of_a_faulted_scenario_also_runs_without_its_faults() -> None:
    base = load_builtin("small-opening", ["design.compensation=false", EVERY_REPLY_LOST])
    migration = run_migration(base, ["monolith", "point_split"], [1, 2], workers=1)
    monolith, split = migration.stages
    assert split.baseline is not None and len(split.baseline.runs) == 2 and split.baseline.cell.scenario.faults == ()
    # The lost replies' timeouts, not the split, make the faulted p95 slow.
    assert split.baseline.measures["latency_p95_ms"].estimate < 100 < split.summary.measures["latency_p95_ms"].estimate
    assert split.baseline.holds and not split.summary.holds
    assert "under the faults only" in verdict_text(migration)
    costs = cost_text(migration)
    assert costs is not None and costs.startswith("Without faults, against monolith (differences of means over 2 seeds): point_split p95 +")
    assert "The faults add, over each stage's fault-free runs" in costs
    # Every reply lost: the split, with the faults, sells almost nothing.
    assert any(note.startswith("point_split with the faults books almost nothing") for note in thin_notes(migration))
    assert migration.to_json()["stages"][1]["without_faults"]["holds"] is True


def test_the_terminal_shows_both_tables(tmp_path: Path) -> None:
    result = cli("migrate", "small-opening", "--stages", "monolith,point_split", "--seeds", "2", "--workers", "1",
                 "--set", "design.compensation=false", "--set", EVERY_REPLY_LOST, "--out", str(tmp_path / "m"))
    text = flat(result.stdout)
    assert "seeds 1-2 · without faults" in text and "seeds 1-2 · with its faults" in text
    assert "8 runs;" in text
