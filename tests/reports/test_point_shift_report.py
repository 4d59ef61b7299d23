"""The run report's traffic-shift section and ``metrics.point_shift``."""

from __future__ import annotations

from concertsim import api
from concertsim.reports.migration.point_shift import point_shift_blocks
from concertsim.reports.document.markdown import to_markdown


def test_a_shift_run_counts_each_path_and_each_replication_direction() -> None:
    outcome = api.run("point-shift")
    shift = outcome.metrics["point_shift"]
    users = outcome.result.scenario.workload.users
    assert shift["users_shifted"] == round(users * shift["share_percent"] / 100)
    assert shift["served_by_new"] > 0
    assert set(shift["applied"]) == {"point->point_new", "point_new->point"}
    assert all(direction["batches"] > 0 and direction["changes"] >= direction["batches"]
               for direction in shift["applied"].values())
    text = to_markdown(point_shift_blocks(outcome.metrics))
    assert "Traffic shift to the split-out Point" in text
    assert "| point → point_new |" in text


def test_no_shift_no_section() -> None:
    outcome = api.run("small-opening")
    assert outcome.metrics["point_shift"] is None
    assert point_shift_blocks(outcome.metrics) == []
