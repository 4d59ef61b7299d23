"""Concert's migration in motion (``migration.service: concert``, at the ``queue_split`` stage):
what Concert derived (the seat view, the free-seat counts, the sales behind the ranking) and its
inbox of applied events copied to its new store and cut over at once while users buy; no seat
event's effect lost or applied twice and no seat shown in a state its events already changed after
the cutover (``migration-concert-view-kept``), and the safeguards that keep it so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from concertsim.checks import check_run
from concertsim.metrics import compute_metrics
from concertsim.models import concert
from concertsim.scenarios.loader import ScenarioError
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.cli.invoking import cli
from tests.conftest import small_scenario

CHECK = "migration-concert-view-kept"
CUTOVER = [{"at": 0, "action": "copy"}, {"at": 2.5, "action": "verify"}, {"at": 3, "action": "cutover"}]
LATER = [{"at": 0, "action": "copy"}, {"at": 4.5, "action": "verify"}, {"at": 5, "action": "cutover"}]


def moved(steps: list[dict[str, Any]], faults: list[dict[str, Any]] | None = None, **plan: Any) -> RunResult:
    return run_scenario(small_scenario("design.topology=queue_split",
                                       migration={"service": "concert", "steps": steps, **plan}, faults=faults or []))


def copy_lost(at: float, duration: float) -> list[dict[str, Any]]:
    return [{"at": at, "kind": "drop", "target": "request", "duration": duration,
             "match": {"message_type": "concert.replicate"}}]


def broken(result: RunResult) -> set[str]:
    return {v.invariant.id for v in check_run(result) if v.violations}


def status(result: RunResult) -> str:
    return next(v.status for v in check_run(result) if v.invariant.id == CHECK)


@pytest.mark.parametrize(("overrides", "migration", "reason"), [
    (("design.topology=queue_split",), {"service": "concert", "steps": [{"at": 0, "action": "copy"},
                                                                         {"at": 5, "action": "shift", "duration": 5}]},
     "its owner moves at once at a cutover, not user by user in a shift"),
    (("design.topology=point_split",), {"service": "concert"}, "needs design.topology queue_split, not point_split"),
])
def test_a_concert_plan_cuts_over_at_once_once_point_and_queue_are_apart(
    overrides: tuple[str, ...], migration: dict[str, Any], reason: str,
) -> None:
    with pytest.raises(ScenarioError, match=reason):
        small_scenario(*overrides, migration=migration)


def test_the_projection_and_its_reads_move_at_once_and_every_sale_is_counted_once() -> None:
    result = moved(CUTOVER)
    moves = [(r.at, r.data["to"]) for r in result.trace.of_kind("migration.moved")]
    assert {to for _, to in moves} == {"concert_new"} and len({at for at, _ in moves}) == 1
    cutover = moves[0][0]
    served = [(r.at, r.party) for r in result.trace.of_kind("call.serve")
              if str(r.data["endpoint"]).startswith("concert.") and r.data["endpoint"] != "concert.replicate"]
    assert any(party == "concert_new" for _, party in served)
    assert all(party != "concert_new" for at, party in served if at < cutover)
    applied_by_new = [r for r in result.trace.of_kind("consumer.handled")
                      if r.party == "concert_new" and r.at > cutover + 1]
    assert applied_by_new  # the new Concert consumes the seat events from the broker
    # the inbox moved: the events the old store applied are in the new store's inbox under Concert's group
    inbox = result.state["concert_new"]["inbox"]
    assert sum(1 for group, _ in inbox if group == "concert") > len(applied_by_new)
    sold = sum(1 for r in result.trace.of_kind("event.raised") if r.data["type"] == "ReservationCompletedEvent")
    assert sum(t.sold_count for t in result.state["concert_new"][concert.TALLIES].values()) == sold > 0
    assert status(result) == "holds" and not broken(result)
    verdict = next(v for v in check_run(result) if v.invariant.id == "migration-no-lost-write")
    assert verdict.not_applicable == "the plan moves concert, not Point"


def test_without_the_fence_a_stale_router_reads_the_frozen_old_view() -> None:
    fenced = moved(CUTOVER)
    refused = [r.data["reason"] for r in fenced.trace.of_kind("migration.read_refused")]
    assert "concert no longer serves Concert's data" in refused  # a stale router's read, refused and retried
    assert not any(r.party == "concert" for r in fenced.trace.of_kind("migration.concert_read")
                   if r.at >= next(m.at for m in fenced.trace.of_kind("migration.moved")))
    open_door = moved(CUTOVER, fence=False)
    assert CHECK in broken(open_door)
    violation = next(v for v in check_run(open_door) if v.invariant.id == CHECK).violations[0]
    assert violation.evidence["store"] == "concert" and violation.evidence["shown_free"]


@pytest.mark.parametrize("plan", [{"acks": False, "verify": False}, {"capture": "dual_write", "verify": False}])
def test_a_lost_batch_of_the_copy_loses_seat_changes_without_acks_and_verification(plan: dict[str, Any]) -> None:
    kept = moved(LATER, copy_lost(1, 3), verify=False)
    assert status(kept) == "holds" and not broken(kept)  # re-sent until acknowledged
    lossy = moved(LATER, copy_lost(1, 3), **plan)
    assert CHECK in broken(lossy)
    checked = moved(LATER, copy_lost(1, 3), acks=False)  # the verify finds the difference and rolls back
    actions = [(r.data["action"], r.data["outcome"]) for r in checked.trace.of_kind("migration.step")]
    assert ("rollback", "done") in actions and status(checked) == "holds"


def test_a_rollback_hands_the_projection_back_with_every_event_applied_once() -> None:
    steps = [{"at": 0, "action": "copy"}, {"at": 3, "action": "cutover"}, {"at": 8, "action": "rollback"}]
    result = moved(steps)
    assert result.state["concert_migration"]["owner"] == {None: "concert"}
    assert any(r.party == "concert_new" for r in result.trace.of_kind("consumer.handled"))
    assert status(result) == "holds" and not broken(result)


def test_without_a_concert_plan_the_concert_move_is_not_applicable() -> None:
    verdict = next(v for v in check_run(run_scenario(small_scenario())) if v.invariant.id == CHECK)
    assert verdict.not_applicable == "no migration plan runs (no migration:)"
    queue_plan = run_scenario(small_scenario("design.topology=point_split", migration={"service": "queue"}))
    assert next(v for v in check_run(queue_plan)
                if v.invariant.id == CHECK).not_applicable == "the plan moves queue, not Concert"


def test_the_timeline_of_a_concert_plan_is_drawn_over_its_stores() -> None:
    timeline = compute_metrics(moved(CUTOVER, copy_lost(1, 1)))["migration"]
    assert timeline["service"] == "concert" and timeline["stores"] == ["concert", "concert_new"]
    assert sum(timeline["calls"]["concert_new"]) and max(b for _, b in timeline["lag"]["concert->concert_new"]) > 0


def test_the_timeline_draws_the_reads_the_fence_refused() -> None:
    """The fence covers reads: a stale router's seat listing refused by the old store is recorded
    (``migration.read_refused``), counted in the timeline and drawn in the fences' panel."""
    from concertsim.metrics.migration_timeline import migration_timeline
    from concertsim.metrics.records import records_by_kind
    from concertsim.reports.migration.timeline_figure import migration_timeline_figure

    result = moved(CUTOVER)
    refused = [r.at for r in result.trace.of_kind("migration.read_refused")]
    timeline = migration_timeline(result, records_by_kind(result.trace))
    assert refused and timeline["refused_reads"] == refused and not timeline["refused"]
    fences = next(axes for axes in migration_timeline_figure(result, timeline).axes if axes.get_ylabel() == "fences")
    assert [label.get_text() for label in fences.get_yticklabels()] == [f"read refused by a fence ({len(refused)})"]


def test_the_builtin_concert_migration_keeps_every_promise(tmp_path: Path) -> None:
    done = cli("migrate", "--plan", "concert-migration", "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == "migration plan of concert-migration (concert, seed 1):"
    assert [line.split()[2:4] for line in lines[1:4]] == [["copy", "done"], ["verify", "passed"], ["cutover", "done"]]
    assert lines[4] == f"  {CHECK}: holds" and lines[5].startswith("every invariant holds")
    assert (tmp_path / "out" / "migration-timeline.png").read_bytes().startswith(b"\x89PNG")


def test_a_rollback_whose_inputs_never_catch_up_is_cancelled_and_the_new_store_keeps_the_projection() -> None:
    """Found by a search of the full design over a plan that cuts over and rolls back: with the copy
    lost from after the cutover until the heal, a rollback that handed the projection back after
    its wait left the old store without the seat changes the new one had made."""
    steps = [{"at": 0, "action": "copy"}, {"at": 3, "action": "cutover"}, {"at": 8, "action": "rollback"}]
    result = moved(steps, copy_lost(4, 0))
    rollback = next(r for r in result.trace.of_kind("migration.step") if r.data["action"] == "rollback")
    assert rollback.data["outcome"] == "failed" and not rollback.data["drained"]
    assert result.state["concert_migration"]["owner"] == {None: "concert_new"}
    assert status(result) == "holds" and not broken(result)
    hasty = moved(steps, copy_lost(4, 0), catch_up=False)  # hands the projection back without waiting
    assert hasty.state["concert_migration"]["owner"] == {None: "concert"} and CHECK in broken(hasty)
