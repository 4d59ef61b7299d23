"""Local transactions: all or nothing, crashes keep committed state, conflicts are detected."""

from __future__ import annotations

import pytest
import simpy

from concertsim.sim.infrastructure.storage import CommitFailed, Database, WriteConflict


def make_db(latency: float = 1.0) -> tuple[simpy.Environment, Database]:
    env = simpy.Environment()
    return env, Database("svc", env, lambda: latency)


def test_commit_applies_every_write_at_once_after_the_latency() -> None:
    env, db = make_db()
    tx = db.begin()
    tx.put("t", "a", 1)
    tx.put("t", "b", 2)
    env.process(db.commit(tx))
    env.run(until=0.5)
    assert db.tables.get("t", {}) == {}
    env.run(until=1.5)
    assert db.tables["t"] == {"a": 1, "b": 2}


def test_crash_during_commit_leaves_no_partial_write() -> None:
    env, db = make_db()
    before = db.begin()
    before.put("t", "kept", 0)
    db.load(before)

    def committing():
        tx = db.begin()
        tx.put("t", "a", 1)
        tx.put("t", "b", 2)
        tx.delete("t", "kept")
        yield from db.commit(tx)

    process = env.process(committing())

    def crash():
        yield env.timeout(0.5)
        process.interrupt("crash")

    env.process(crash())
    with pytest.raises(simpy.Interrupt):
        env.run()
    assert db.tables["t"] == {"kept": 0}


def test_concurrent_updates_of_one_row_conflict() -> None:
    env, db = make_db()
    seed = db.begin()
    seed.put("t", "row", {"n": 0})
    db.load(seed)
    first, second = db.begin(), db.begin()
    for tx in (first, second):
        tx.get_for_update("t", "row")
        tx.put("t", "row", {"n": 1})
    env.process(db.commit(first))
    env.run()
    with pytest.raises(WriteConflict):
        env.process(db.commit(second))
        env.run()


def test_failed_commit_writes_nothing() -> None:
    env, db = make_db()
    db.commit_fails = lambda: True
    tx = db.begin()
    tx.put("t", "a", 1)
    with pytest.raises(CommitFailed):
        env.process(db.commit(tx))
        env.run()
    assert "t" not in db.tables


def test_outbox_rows_commit_with_the_business_write_in_order() -> None:
    from concertsim.models.events import Event, PointCharged

    env, db = make_db()
    tx = db.begin()
    tx.put("accounts", 1, "balance")
    for n in range(3):
        tx.add_outbox(Event.wrap(PointCharged(user_id=1, amount=n + 1, balance=n), event_id=f"e{n}",
                                 occurred_at=0.0, key="user-1", trace_id="t"))
    env.process(db.commit(tx))
    env.run()
    assert [row.event.event_id for row in db.unpublished(10)] == ["e0", "e1", "e2"]
    assert db.tables["accounts"] == {1: "balance"}


def test_a_row_copy_is_equal_and_separate_whatever_the_row() -> None:
    from dataclasses import dataclass

    from concertsim.sim.infrastructure.storage import copy_row

    @dataclass(slots=True)
    class Slotted:
        a: int
        b: list[int]

    @dataclass(slots=True, frozen=True)
    class Frozen:
        a: int

    @dataclass(slots=True)
    class One:
        a: int

    @dataclass
    class Plain:
        a: int

    for row in (Slotted(1, [2]), Frozen(3), One(4), Plain(5), True, ("t", 1)):
        copied = copy_row(row)
        assert copied == row and type(copied) is type(row)
    slotted = Slotted(1, [2])
    copied = copy_row(slotted)
    copied.a = 9
    assert slotted.a == 1 and copied.b is slotted.b, "shallow, as copy.copy"


def test_the_outbox_backlog_counted_at_commit_is_the_unpublished_rows_of_every_run(monkeypatch) -> None:
    """The backlog is counted as rows commit, not by scanning the outbox: in runs with relays that
    crash and publishes that fail (rows marked, marks lost, rows republished), the count is every
    time what a scan of the outbox finds."""
    from concertsim.sim.infrastructure import storage
    from concertsim.sim.run.runner import run_scenario
    from tests.conftest import small_scenario

    checked: list[int] = []
    counted = storage.Database.outbox_backlog

    def compared(self: Database) -> int:
        outbox = self.tables.get(storage.OUTBOX, {})
        scanned = sum(1 for row in outbox.values() if not row.published)
        assert counted(self) == scanned
        checked.append(scanned)
        return scanned

    monkeypatch.setattr(storage.Database, "outbox_backlog", compared)
    for faults in ('[{"at": 2, "kind": "crash", "target": "relay:point", "duration": 6}]',
                   '[{"at": 1, "kind": "drop", "target": "publish", "duration": 8}]'):
        run_scenario(small_scenario(f"faults={faults}", "workload.users=40"))
    assert max(checked) > 0, "the runs should leave a backlog to count"
