"""A gradual traffic shift at the monolith stage (``design.point_shift``): routing by user bucket,
two Point stores kept alike by replication, and the invariant that compares them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from concertsim.checks import check_run
from concertsim.models import points
from concertsim.scenarios.loader import ScenarioError
from concertsim.sim.hosting.shift_routing import ShiftRouting
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.cli.invoking import cli, flat, refused
from tests.conftest import small_scenario

SHIFT = ("design.topology=monolith", "design.point_shift=20")
LOST_REPLICATION = [{"at": 0, "kind": "drop", "target": "request", "duration": 20,
                     "match": {"message_type": "point.replicate"}}]
LOST_USE_REPLIES = [{"at": 0, "kind": "drop", "target": "reply", "match": {"message_type": "point.use"}}]


def shifted(result: RunResult) -> frozenset[int]:
    """The users the split-out Point serves in ``result``."""
    design = result.scenario.design
    return ShiftRouting(design.point_shift, result.scenario.workload.users).shifted


def test_a_shift_moves_that_share_of_the_users_there_are_and_more_users_for_a_larger_share() -> None:
    assert len(ShiftRouting(25, 20).shifted) == 5
    assert len(ShiftRouting(25, 1000).shifted) == 250
    assert ShiftRouting(25, 20).shifted < ShiftRouting(50, 20).shifted < ShiftRouting(100, 20).shifted
    assert ShiftRouting(100, 20).shifted == frozenset(range(1, 21))
    assert ShiftRouting(25, 20).shifted != frozenset(range(1, 6))  # spread over the users, not the first ids


def test_25_and_100_percent_of_a_small_opening_are_different_runs() -> None:
    quarter = run_scenario(small_scenario("design.topology=monolith", "design.point_shift=25"))
    everyone = run_scenario(small_scenario("design.topology=monolith", "design.point_shift=100"))
    assert quarter.trace_sha256 != everyone.trace_sha256
    assert len(shifted(quarter)) == round(quarter.scenario.workload.users / 4)


def broken(result: RunResult) -> dict[str, int]:
    return {v.invariant.id: len(v.violations) for v in check_run(result) if v.violations}


def test_each_users_point_operations_go_to_the_store_of_their_bucket() -> None:
    result = run_scenario(small_scenario(*SHIFT))
    raised = [r for r in result.trace.of_kind("event.raised") if r.data["type"].startswith("Point")]
    by_host = {(r.party, r.data["payload"]["user_id"] in shifted(result)) for r in raised}
    assert by_host == {("point_new", True), ("point", False)}  # both paths served, each its own users
    served = {(r.party, r.data["endpoint"]) for r in result.trace.of_kind("call.serve")}
    assert ("point_new", "point.use") in served  # new path: over the network
    assert any(r.data["to"] == "point" and r.data["endpoint"] == "point.use"
               for r in result.trace.of_kind("call.inline"))  # old path: a function call in the monolith
    assert broken(result) == {}


def test_acknowledged_replication_survives_lost_messages_and_the_stores_agree() -> None:
    result = run_scenario(small_scenario(*SHIFT, faults=LOST_REPLICATION))
    assert broken(result) == {}
    old, new = result.table("point_old", points.LEDGER), result.table("point_new", points.LEDGER)
    assert old == new and any(e.kind == "use" for e in old.values())
    assert any(e.user_id in shifted(result) for e in old.values() if e.kind == "use")  # the new path's, replicated


@pytest.mark.parametrize(
    ("replication", "faults"),
    [("once", LOST_REPLICATION), ("none", [])],
    ids=["sent once, lost", "none"],
)
def test_without_acknowledged_replication_the_stores_disagree(replication: str, faults: list) -> None:
    result = run_scenario(small_scenario(*SHIFT, f"design.shift_replication={replication}", faults=faults))
    assert set(broken(result)) == {"point-stores-agree"}  # the owners' view keeps every other promise
    (verdict,) = check_run(result, ["point-stores-agree"])
    assert "the Point stores disagree on user" in verdict.violations[0].message
    accounts = result.table("point", points.ACCOUNTS)  # what the other checks read: each owner's rows
    for user_id, account in accounts.items():
        owner = "point_new" if user_id in shifted(result) else "point_old"
        assert account is result.table(owner, points.ACCOUNTS)[user_id]


def test_the_shifted_users_payments_meet_the_distributed_transaction_problem() -> None:
    """A reply of point.use lost needs a network between Reservation and Point: only the shifted
    users' payments have one. With compensation the new Point refunds them (the monolith's
    ReservationFailedEvent reaches it through the broker); without, their deductions are orphaned."""
    kept = run_scenario(small_scenario(*SHIFT, faults=LOST_USE_REPLIES))
    assert broken(kept) == {}
    refunded = [u for u in kept.table("point", points.USES).values() if u.refunded_at is not None]
    assert refunded and all(u.user_id in shifted(kept) for u in refunded)
    assert any(r.party == "point_new" and r.data["type"] == "ReservationFailedEvent"
               for r in kept.trace.of_kind("consumer.handled"))
    orphaning = run_scenario(small_scenario(*SHIFT, "design.compensation=false", faults=LOST_USE_REPLIES))
    (verdict,) = check_run(orphaning, ["no-orphaned-deduction"])
    orphaned = {v.evidence["reservation_id"] for v in verdict.violations}
    assert orphaned
    assert all(u.user_id in shifted(orphaning) for u in orphaning.table("point", points.USES).values()
               if u.reservation_id in orphaned)


def test_a_payment_served_by_both_points_is_a_violation() -> None:
    result = run_scenario(small_scenario(*SHIFT))
    assert broken(result) == {}
    used = next(r for r in result.trace.of_kind("event.raised")
                if r.data["type"] == "PointUsedEvent" and r.party == "point_new")
    result.trace.records[used.seq].party = "point"  # as if the monolith's Point had made this deduction...
    refund = copy.deepcopy(result.trace.records[used.seq])  # ...and the new one had refunded it
    refund.party, refund.data["type"] = "point_new", "PointRefundedEvent"
    result.trace.records.append(refund)
    refund.seq = len(result.trace.records) - 1
    (verdict,) = check_run(result, ["point-stores-agree"])
    reservation_id = used.data["payload"]["reservation_id"]
    assert [v.message for v in verdict.violations] == [
        f"{reservation_id} was served by both Points (point, point_new): one payment took both paths"]


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (("design.point_shift=20",), "design.point_shift needs design.topology monolith, not services"),
        (("design.topology=monolith", "design.point_shift=20", "design.payment_flow=choreography"),
         "modelled for design.payment_flow sync"),
        (("design.topology=monolith", "design.point_shift=101"), "design.point_shift"),
    ],
)
def test_a_shift_the_model_does_not_cover_is_refused(overrides: tuple[str, ...], says: str) -> None:
    with pytest.raises(ScenarioError, match=says):
        small_scenario(*overrides)


def test_migrate_runs_the_shifted_monolith_between_the_monolith_and_point_split(tmp_path: Path) -> None:
    out = tmp_path / "migration"
    result = cli("migrate", "small-opening", "--stages", "point_split,monolith", "--shift", "25", "--seeds", "1",
                 "--workers", "1", "--set", "design.shift_replication=once", "--set",
                 "faults=[{at: 0, kind: drop, target: request, duration: 20, match: {message_type: point.replicate}}]",
                 "--out", str(out))
    assert result.exit_code == 1, result.output
    text = flat(result.stdout)
    assert text.index("monolith ") < text.index("monolith@25") < text.index("point_split")
    assert "monolith@25: point-stores-agree (new) broken in 1 of 1 runs" in text
    data = json.loads((out / "migration.json").read_text())
    stages = {stage["stage"]: stage for stage in data["stages"]}
    assert stages["monolith@25"]["point_shift"] == 25 and stages["monolith"]["point_shift"] == 0
    assert stages["point_split"]["repaired"] == []  # one store there: nothing to agree on, nothing repaired
    assert "monolith@25: 5 of 20 users served by the split-out Point" in text
    assert "point_new (5 of 20 users, 25%)" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--shift", "0"), "--shift: 0 is not a share of users in percent, 1 to 100"),
        (("--set", "design.point_shift=10"), "--set design.point_shift: it is chosen with --shift"),
        (("--shift", "10", "--set", "design.payment_flow=choreography"), "--shift 10: design.point_shift is modelled"),
    ],
)
def test_bad_shifts_are_refused_with_exit_2(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    assert says in refused(cli("migrate", "small-opening", *args, "--out", str(tmp_path / "x")))
    assert not (tmp_path / "x").exists()
