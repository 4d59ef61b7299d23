"""A run with Point event-sourced keeps every promise, pays for deriving balances by replay, and
the checks catch a snapshot that does not match its events."""

from __future__ import annotations

from concertsim.api import run
from concertsim.checks import check_run
from concertsim.models import points


def test_an_event_sourced_point_keeps_every_promise_and_stores_events_only() -> None:
    outcome = run("small-opening", overrides=["design.point_storage=events", "storage.point_snapshot_every=2"])
    assert outcome.violated == []
    assert outcome.result.table("point", points.ACCOUNTS) == {}
    assert outcome.result.table("point", points.SNAPSHOTS)
    assert any(r.kind == "point.replay" for r in outcome.result.trace.records)


def test_a_snapshot_that_disagrees_with_its_events_is_caught() -> None:
    result = run("small-opening", overrides=["design.point_storage=events", "storage.point_snapshot_every=1"]).result
    user_id, snapshot = next(iter(result.table("point", points.SNAPSHOTS).items()))
    result.state["point"][points.SNAPSHOTS][user_id] = points.Snapshot(user_id, snapshot.version, snapshot.balance + 1)
    (verdict,) = check_run(result, ["point-replay-consistent"])
    assert verdict.violations and "snapshot" in verdict.violations[0].message


def test_snapshots_bound_what_a_read_replays() -> None:
    def replayed(every: str) -> list[int]:
        outcome = run("small-opening", overrides=["design.point_storage=events", f"storage.point_snapshot_every={every}"])
        assert outcome.violated == []
        return [r.data["events"] for r in outcome.result.trace.records if r.kind == "point.replay"]

    assert max(replayed("null")) >= 1  # every read replays the stream from the opening balance
    assert max(replayed("1")) == 0  # a snapshot after every event: nothing left to replay


def test_the_metrics_and_the_report_say_what_event_sourcing_cost() -> None:
    from concertsim.reports.document.blocks import Paragraph
    from concertsim.reports.run.service_metrics import service_metrics_blocks

    outcome = run("small-opening", overrides=["design.point_storage=events", "storage.point_snapshot_every=null"])
    cost = outcome.metrics["point_storage"]
    replays = [r.data["events"] for r in outcome.result.trace.records if r.kind == "point.replay"]
    assert (cost["reads"], cost["events_replayed"]) == (len(replays), sum(replays)) and cost["snapshots"] == 0
    shown = " ".join(b.text for b in service_metrics_blocks(outcome, with_figure=False) if isinstance(b, Paragraph))
    assert f"replaying {cost['events_replayed']} events" in shown
    assert run("small-opening", overrides=["workload.users=5"]).metrics["point_storage"].keys() == {"mode", "commits"}


def test_two_appends_to_one_stream_expect_the_same_version_and_the_later_commit_conflicts() -> None:
    import pytest
    import simpy

    from concertsim.models.store import CountingIds
    from concertsim.sim.infrastructure.storage import Database, WriteConflict

    sourced = points.AccountStorage(sourced=True)
    env, ids = simpy.Environment(), CountingIds()
    db = Database("point", env, lambda: 1.0)
    opening = db.begin()
    for user_id in (1, 2):
        points.open_account(opening, user_id, 0.0, initial_balance=100, storage=sourced)
    db.load(opening)
    first, second, other = db.begin(), db.begin(), db.begin()
    for tx, user_id in ((first, 1), (second, 1), (other, 2)):
        points.charge(tx, ids, user_id=user_id, amount=10, now=0.0, storage=sourced)
    env.process(db.commit(first))
    env.process(db.commit(other))  # another stream: no conflict
    env.run()
    with pytest.raises(WriteConflict, match=r"account_streams\[\(1, 2\)\]"):
        env.process(db.commit(second))
        env.run()
    assert points.replay(db.begin(), 1) == (110, 2) and points.replay(db.begin(), 2) == (110, 2)


def test_a_deduction_whose_projection_says_refunded_without_a_refund_event_is_caught() -> None:
    result = run("small-opening", overrides=["design.point_storage=events"]).result
    use = next(u for u in result.table("point", points.USES).values() if u.refunded_at is None)
    use.refunded_at = 99.0
    (verdict,) = check_run(result, ["point-replay-consistent"])
    assert verdict.violations and f"{use.use_id} is refunded at 99.0 in the projection but not refunded by the events" in (
        verdict.violations[0].message)


def test_a_refund_command_pays_for_replaying_the_accounts_it_appends_to() -> None:
    lost_replies = "faults=[{at: 0, kind: drop, target: reply, match: {message_type: point.use}}]"  # sagas compensate
    outcome = run("orchestrated-payments", overrides=["design.point_storage=events", "storage.point_snapshot_every=null",
                                                      "workload.users=60", lost_replies])
    assert outcome.violated == []
    refunds = {r.trace_id for r in outcome.result.trace.records if r.kind == "call.serve" and r.data["endpoint"] == "point.refund"}
    replays = {r.trace_id for r in outcome.result.trace.records if r.kind == "point.replay"}
    assert refunds & replays


def test_an_idempotency_key_index_naming_another_deduction_than_its_event_is_caught() -> None:
    result = run("small-opening", overrides=["design.point_storage=events"]).result
    keys = result.state["point"][points.USES_BY_KEY]
    first, second = list(keys)[:2]
    keys[first] = keys[second]
    (verdict,) = check_run(result, ["point-replay-consistent"])
    assert verdict.violations and f"uses_by_key[{first!r}]" in verdict.violations[0].message
