"""Queue's migration in motion (``migration.service: queue``, at the ``point_split`` stage): the
waiting line copied to its new store and cut over at once while users wait, its jobs and its
handler of ReservationCompletedEvent moving with it; no token or place in line lost or given twice
across the move (``migration-queue-tokens-kept``), and the safeguards that keep it so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from concertsim.checks import check_run
from concertsim.checks.probes import probe_counts
from concertsim.metrics import compute_metrics
from concertsim.scenarios.loader import ScenarioError
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.cli.invoking import cli
from tests.conftest import small_scenario

CUTOVER = [{"at": 0, "action": "copy"}, {"at": 3, "action": "verify"}, {"at": 4, "action": "cutover"}]
POINT_CHECKS = ("migration-no-lost-write", "migration-no-double-spend", "migration-reads-monotonic",
                "migration-one-owner", "migration-rollback-lossless")


def moved(steps: list[dict[str, Any]], faults: list[dict[str, Any]] | None = None, **plan: Any) -> RunResult:
    return run_scenario(small_scenario("design.topology=point_split",
                                       migration={"service": "queue", "steps": steps, **plan}, faults=faults or []))


def copy_lost(at: float, duration: float) -> list[dict[str, Any]]:
    return [{"at": at, "kind": "drop", "target": "request", "duration": duration,
             "match": {"message_type": "queue.replicate"}}]


def broken(result: RunResult) -> set[str]:
    return {v.invariant.id for v in check_run(result) if v.violations}


def status(result: RunResult, invariant: str = "migration-queue-tokens-kept") -> str:
    return next(v.status for v in check_run(result) if v.invariant.id == invariant)


@pytest.mark.parametrize(("overrides", "migration", "reason"), [
    (("design.topology=point_split",), {"service": "queue", "steps": [{"at": 0, "action": "copy"},
                                                                       {"at": 5, "action": "shift", "duration": 5}]},
     "it moves at once at a cutover, not user by user in a shift"),
    (("design.topology=monolith",), {"service": "queue"}, "needs design.topology point_split, not monolith"),
    (("design.topology=point_split",), {"service": "point"}, "needs design.topology monolith, not point_split"),
])
def test_a_queue_plan_cuts_the_line_over_at_once_once_point_is_apart(
    overrides: tuple[str, ...], migration: dict[str, Any], reason: str,
) -> None:
    with pytest.raises(ScenarioError, match=reason):
        small_scenario(*overrides, migration=migration)


def test_the_waiting_line_moves_at_once_with_its_jobs_and_keeps_every_token() -> None:
    result = moved(CUTOVER)
    moves = [(r.at, r.data["to"]) for r in result.trace.of_kind("migration.moved")]
    assert len(moves) == result.scenario.workload.users and {to for _, to in moves} == {"queue_new"}
    assert len({at for at, _ in moves}) == 1  # every user at once
    cutover = moves[0][0]
    served = [(r.at, r.party) for r in result.trace.of_kind("call.serve")
              if str(r.data["endpoint"]).startswith("queue.") and r.data["endpoint"] != "queue.replicate"]
    assert any(party == "queue_new" for _, party in served)
    assert all(party == "queue" for at, party in served if at < cutover)  # nobody reached the new store early
    activated = [r for r in result.trace.of_kind("event.raised") if r.data["type"] == "QueueTokenActivatedEvent"]
    assert {r.party for r in activated if r.at > cutover + 1} == {"queue_new"}  # the activator moved too
    assert status(result) == "holds" and not broken(result)
    for name in POINT_CHECKS:
        verdict = next(v for v in check_run(result) if v.invariant.id == name)
        assert verdict.not_applicable == "the plan moves queue, not Point"


def test_without_the_fence_a_token_a_stale_router_sent_to_the_old_store_is_lost() -> None:
    fenced = moved(CUTOVER)
    assert [r.data["reason"] for r in fenced.trace.of_kind("migration.refused")]  # stale routers were refused
    open_door = moved(CUTOVER, fence=False)
    assert probe_counts(open_door)["write-to-old-store-after-cutover"] > 0
    assert "migration-queue-tokens-kept" in broken(open_door)
    violation = next(v for v in check_run(open_door) if v.invariant.id == "migration-queue-tokens-kept").violations[0]
    assert violation.evidence["owner"] == "queue_new" and set(violation.evidence["issued_by"].values()) == {"queue"}


def test_a_lost_batch_of_the_copy_loses_tokens_without_acks_and_verification() -> None:
    kept = moved(CUTOVER, copy_lost(1, 5), verify=False)
    assert status(kept) == "holds" and not broken(kept)  # re-sent until acknowledged
    lossy = moved(CUTOVER, copy_lost(1, 5), verify=False, acks=False)
    assert "migration-queue-tokens-kept" in broken(lossy)


def test_a_rollback_brings_back_the_tokens_the_new_store_issued() -> None:
    steps = [{"at": 0, "action": "copy"}, {"at": 3, "action": "cutover"}, {"at": 8, "action": "rollback"}]
    result = moved(steps)
    issued = result.state["queue_migration"]["issued"]
    assert any(store == "queue_new" for store, _ in issued.values())
    assert result.state["queue_migration"]["owner"] == {None: "queue"}
    assert status(result) == "holds" and not broken(result)


def test_without_a_queue_plan_the_queue_move_is_not_applicable() -> None:
    verdict = next(v for v in check_run(run_scenario(small_scenario())) if v.invariant.id == "migration-queue-tokens-kept")
    assert verdict.not_applicable == "no migration plan runs (no migration:)"
    point_plan = run_scenario(small_scenario("design.topology=monolith", migration={"steps": []}))
    assert next(v for v in check_run(point_plan)
                if v.invariant.id == "migration-queue-tokens-kept").not_applicable == "the plan moves point, not Queue"


def test_the_timeline_of_a_queue_plan_is_drawn_over_its_stores() -> None:
    timeline = compute_metrics(moved(CUTOVER, copy_lost(1, 2)))["migration"]
    assert timeline["service"] == "queue" and timeline["stores"] == ["queue", "queue_new"]
    assert sum(timeline["calls"]["queue_new"]) and max(b for _, b in timeline["lag"]["queue->queue_new"]) > 0
    assert sum(timeline["operations"]["queue_new"]["ops"])


def test_the_builtin_queue_migration_keeps_every_promise(tmp_path: Path) -> None:
    done = cli("migrate", "--plan", "queue-migration", "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == "migration plan of queue-migration (queue, seed 1):"
    assert [line.split()[2:4] for line in lines[1:4]] == [["copy", "done"], ["verify", "passed"], ["cutover", "done"]]
    assert lines[4] == "  migration-queue-tokens-kept: holds" and lines[5].startswith("every invariant holds")
    assert (tmp_path / "out" / "migration-timeline.png").read_bytes().startswith(b"\x89PNG")


def test_a_cutover_whose_copy_never_catches_up_is_cancelled_and_the_line_stays() -> None:
    """Found by a search of queue-migration: with the copy lost until the heal, a cutover that
    handed the line over after its wait gave the new store's first place to a second token."""
    steps = [{"at": 0, "action": "copy"}, {"at": 18.1, "action": "cutover"}]
    result = moved(steps, copy_lost(0, 0), verify_timeout=30)
    cutover = next(r for r in result.trace.of_kind("migration.step") if r.data["action"] == "cutover")
    assert cutover.data["outcome"] == "failed" and result.state["queue_migration"]["owner"] == {None: "queue"}
    assert status(result) == "holds" and not broken(result)


def test_a_rollback_whose_copy_back_never_catches_up_is_cancelled_and_the_new_store_keeps_the_line() -> None:
    """Found by a search of the full design over a plan that cuts over and rolls back: with the copy
    lost from after the cutover until the heal, a rollback that handed the line back after its wait
    let the old store give again places the new store had given."""
    steps = [{"at": 0, "action": "copy"}, {"at": 3, "action": "cutover"}, {"at": 8, "action": "rollback"}]
    result = moved(steps, copy_lost(4, 0))
    rollback = next(r for r in result.trace.of_kind("migration.step") if r.data["action"] == "rollback")
    assert rollback.data["outcome"] == "failed" and not rollback.data["drained"]
    assert result.state["queue_migration"]["owner"] == {None: "queue_new"}
    assert status(result) == "holds" and not broken(result)
    hasty = moved(steps, copy_lost(4, 0), catch_up=False)  # hands the line back without waiting
    assert result.state["queue_migration"]["owner"] != hasty.state["queue_migration"]["owner"] == {None: "queue"}
    assert "migration-queue-tokens-kept" in broken(hasty)
