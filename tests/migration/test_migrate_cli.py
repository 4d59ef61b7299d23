"""``concertsim migrate``: the stage table, its files, and its refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from concertsim.migration import MigrationError, parse_stages
from tests.cli.invoking import cli, flat, refused

LOST_REPLIES = "faults=[{at: 0, kind: drop, target: reply, match: {message_type: point.use}}]"


def test_migrate_prints_the_stage_table_and_names_what_the_split_breaks(tmp_path: Path) -> None:
    out = tmp_path / "migration"
    result = cli("migrate", "small-opening", "--stages", "point_split,monolith", "--seeds", "2", "--workers", "1",
                 "--set", "design.compensation=false", "--set", LOST_REPLIES, "--out", str(out))
    assert result.exit_code == 1, result.output
    text = flat(result.stdout)
    assert text.index("monolith") < text.index("point_split")  # the seed's order, whatever --stages says
    assert "point_split: no-orphaned-deduction (new) broken in 2 of 2 runs" in text
    assert "point_split first breaks no-orphaned-deduction" in text
    assert {"migration.json", "report.md", "report.html", "migration-stages.png"} <= {p.name for p in out.iterdir()}
    data = json.loads((out / "migration.json").read_text())
    stages = {stage["stage"]: stage for stage in data["stages"]}
    assert list(stages) == ["monolith", "point_split"]
    assert stages["monolith"]["holds"] and stages["monolith"]["processes"] == [
        ["reservation", "point", "queue", "concert", "data_platform"]]
    assert "no-orphaned-deduction" in stages["point_split"]["introduced"]
    assert stages["point_split"]["invariants"]["no-orphaned-deduction"]["violated"] == 2
    assert "reply-lost-after-deduction" in stages["point_split"]["probes_first_reached"]
    assert "reply-lost-after-deduction" not in stages["monolith"]["probes_reached"]  # no network in between
    report = (out / "report.md").read_text()
    assert "## Stage by stage" in report and "reservation+queue+concert+data_platform \\| point" in report


@pytest.mark.parametrize(
    ("stages", "says"),
    [
        ("monolith,microservices", "--stages: unknown stage 'microservices'; the stages are monolith, point_split"),
        ("monolith,monolith", "--stages: monolith named twice"),
        (" , ", "--stages: name at least one stage"),
    ],
)
def test_bad_stages_are_refused_with_exit_2(stages: str, says: str, tmp_path: Path) -> None:
    assert says in refused(cli("migrate", "small-opening", "--stages", stages, "--out", str(tmp_path / "x")))
    assert not (tmp_path / "x").exists()


def test_setting_the_topology_is_refused_since_the_stages_choose_it(tmp_path: Path) -> None:
    text = refused(cli("migrate", "small-opening", "--set", "design.topology=monolith", "--out", str(tmp_path / "x")))
    assert "--set design.topology: it is chosen with --stages" in text


def test_stages_are_put_in_the_seeds_order() -> None:
    assert parse_stages("services,monolith,queue_split") == ("monolith", "queue_split", "services")
    assert parse_stages(None) == ("monolith", "point_split", "queue_split", "concert_split", "services")
    with pytest.raises(MigrationError):
        parse_stages("")
