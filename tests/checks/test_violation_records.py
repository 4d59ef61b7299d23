"""Every violation names the trace records that prove it, deterministically, and the records are
about what the violation says (its reservation, event, deduction, user or client operation)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from concertsim.checks import REGISTRY, Violation, check_run
from concertsim.models import concert, data_platform, points, reservations
from concertsim.models.reservations import ReservationStatus, SeatStatus
from concertsim.scenarios.schema import SeatCacheSpec
from concertsim.sim.infrastructure.trace import Trace, TraceRecord
from concertsim.sim.run.result import Phases, RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

BROKEN_DESIGNS = {
    "compensation off, point.use replies lost": (
        ("design.compensation=false",),
        [{"at": 0, "kind": "drop", "target": "reply", "duration": 100, "match": {"message_type": "point.use"}}],
    ),
    "dual write, broker crash": (("design.publish=dual_write",), [{"at": 5, "kind": "crash", "target": "broker", "duration": 10}]),
    "no hold expiry": (("design.hold_expiry=false", "settle.deadline=60"), []),
    "point shift, replication sent once and lost": (
        ("design.topology=monolith", "design.point_shift=20", "design.shift_replication=once"),
        [{"at": 0, "kind": "drop", "target": "request", "duration": 20, "match": {"message_type": "point.replicate"}}],
    ),
    "no consumer dedup, deliveries duplicated": (
        ("design.consumer_dedup=false",), [{"at": 0, "kind": "duplicate", "target": "delivery", "duration": 100}]
    ),
}

_ID_FIELDS = ("reservation_id", "event_id", "use_id", "hold_op", "token_id")


def named_ids(violation: Violation) -> set[str]:
    """The ids a violation's evidence names, as they appear in trace records."""
    evidence = violation.evidence
    ids = {str(evidence[name]) for name in _ID_FIELDS if evidence.get(name) is not None}
    ids |= {str(r) for r in evidence.get("reservations", [])} | {str(u) for u in evidence.get("unrefunded_uses", [])}
    if "op" in evidence:
        ids.add(evidence["op"]["op_id"])
    if "pay" in evidence:
        ids.add(evidence["pay"]["op_id"])
    if violation.saga:
        ids.add(violation.saga)
    return ids


def assert_proven(result: RunResult, violation: Violation) -> None:
    records = violation.records
    assert records, f"{violation.invariant}: {violation.message} names no trace record"
    assert list(records) == sorted(set(records)), "records are sorted, each once"
    assert all(0 <= seq < len(result.trace.records) for seq in records)
    shown = [json.dumps(result.trace.records[seq].to_json(), default=str) for seq in records]
    ids = named_ids(violation)
    if ids:
        assert any(f'"{i}"' in text for i in ids for text in shown), (
            f"{violation.invariant}: none of records {records} mentions {sorted(ids)}"
        )
    elif "user_id" in violation.evidence:
        assert all(f'"user_id": {violation.evidence["user_id"]}' in text for text in shown
                   if '"user_id"' in text)


@pytest.fixture(scope="module", params=list(BROKEN_DESIGNS), ids=list(BROKEN_DESIGNS))
def broken_design(request: pytest.FixtureRequest) -> tuple[RunResult, list]:
    overrides, faults = BROKEN_DESIGNS[request.param]
    result = run_scenario(small_scenario(*overrides, faults=faults))
    return result, check_run(result)


def test_each_violation_of_a_broken_design_names_its_records(broken_design) -> None:
    result, verdicts = broken_design
    found = [v for verdict in verdicts for v in verdict.violations]
    assert found, "the broken design breaks a promise"
    for violation in found:
        assert_proven(result, violation)


def test_the_records_are_the_same_in_every_run_of_the_same_scenario() -> None:
    overrides, faults = BROKEN_DESIGNS["compensation off, point.use replies lost"]
    runs = [run_scenario(small_scenario(*overrides, faults=faults)) for _ in range(2)]
    first, second = ([(v.invariant, v.records) for verdict in check_run(r) for v in verdict.violations] for r in runs)
    assert first == second and first


# --- invariants a broken design rarely breaks: the run's records damaged as the bug would -------------


@pytest.fixture(scope="module")
def clean() -> RunResult:
    """A clean run in which users top up their points and some holds expire."""
    return run_scenario(small_scenario("workload.initial_points=0"))


def confirmed(result: RunResult) -> list[reservations.Reservation]:
    return [r for r in result.table("reservation", reservations.RESERVATIONS).values()
            if r.status == ReservationStatus.CONFIRMED]


def sold_twice(result: RunResult) -> None:
    first, second = confirmed(result)[:2]
    second.date_id, second.seat_no = first.date_id, first.seat_no


def balance_below_zero(result: RunResult) -> None:
    use = next(iter(result.table("point", points.USES).values()))
    entry = next(e for e in result.table("point", points.LEDGER).values() if e.use_id == use.use_id)
    entry.amount = 10**9


def ledger_off_balance(result: RunResult) -> None:
    next(iter(result.table("point", points.ACCOUNTS).values())).balance += 1


def refunded_twice(result: RunResult) -> None:
    use = next(iter(result.table("point", points.USES).values()))
    ledger = result.state["point"][points.LEDGER]
    for n in (1, 2):
        ledger[f"led-x{n}-9999{n}"] = points.LedgerEntry(
            f"led-x{n}-9999{n}", use.user_id, "refund", use.amount, 99.0, use.reservation_id, use.use_id)


def charged_twice(result: RunResult) -> None:
    ledger = result.state["point"][points.LEDGER]
    entry = next(e for e in ledger.values() if e.kind == "charge" and e.request_key)
    ledger["led-99998"] = replace(entry, entry_id="led-99998")
    result.state["point"][points.ACCOUNTS][entry.user_id].balance += entry.amount


def capacity_one(result: RunResult) -> None:
    result.scenario = result.scenario.model_copy(
        update={"rules": result.scenario.rules.model_copy(update={"queue_capacity": 1})})


def paid_but_failed(result: RunResult) -> None:
    from concertsim.checks.clients.liveness import honest_payments

    _, _, reservation = honest_payments(result)[0]
    reservation.status = ReservationStatus.FAILED


def expired_hold_still_held(result: RunResult) -> None:
    next(r for r in result.table("reservation", reservations.RESERVATIONS).values()
         if r.status == ReservationStatus.EXPIRED).status = ReservationStatus.HELD


def seat_view_behind(result: RunResult) -> None:
    r = confirmed(result)[0]
    result.state["concert"][concert.SEAT_VIEW][(r.date_id, r.seat_no)].status = SeatStatus.HELD


def cached_listing_shows_a_sold_seat(result: RunResult) -> None:
    """A versioned seat cache serves, after the run, a listing that shows a sold seat free."""
    sold = next(r for r in result.trace.of_kind("consumer.handled")
                if r.data["group"] == "concert" and r.data["type"] == "ReservationCompletedEvent")
    payload = next(r for r in result.trace.of_kind("event.raised")
                   if r.data["event_id"] == sold.data["event_id"]).data["payload"]
    result.scenario = result.scenario.model_copy(update={"seat_cache": SeatCacheSpec(mode="versioned")})
    end = result.trace.records[-1].at
    result.trace.add(end, "cache.fill", "concert", None,
                     {"date": payload["date_id"], "listing": "listing-1", "free": [payload["seat_no"]], "read_at": end})
    result.trace.add(end, "cache.hit", "concert", None,
                     {"date": payload["date_id"], "listing": "listing-1", "age": 0.0, "behind": 1, "taken": 1})


def sale_counted_twice(result: RunResult) -> None:
    next(iter(result.table("concert", concert.TALLIES).values())).sold_count += 1


def collected_twice(result: RunResult) -> None:
    collected = result.state["data_platform"][data_platform.COLLECTED]
    record = next(iter(collected.values()))
    collected["dp-dup"] = replace(record, record_id="dp-dup")


def event_dropped(result: RunResult) -> None:
    next(r for r in result.trace.records if r.kind == "consumer.handled").kind = "consumer.dropped"
    result.trace = _retraced(result.trace.records)


def parked_for_good(result: RunResult) -> None:
    from concertsim.models.events import PAYLOAD_TYPES, Event
    from concertsim.sim.messaging.kafka import DeadLetter

    raised = next(r for r in result.trace.of_kind("event.raised"))
    event = Event.wrap(
        PAYLOAD_TYPES[raised.data["type"]].model_validate(raised.data["payload"]), event_id=raised.data["event_id"],
        occurred_at=raised.at, key=raised.data["key"], trace_id=raised.trace_id or "t",
    )
    result.dead_letters.append(DeadLetter("concert", "reservation-events", 0, 0, event, "poison", 12.5))


def paid_and_expired(result: RunResult) -> None:
    op = next(op for op in result.history if op.action == "pay" and op.outcome == "ok")
    result.state["reservation"][reservations.RESERVATIONS][op.detail["reservation_id"]].status = ReservationStatus.EXPIRED


def refund_hidden(result: RunResult) -> None:
    use = next(iter(result.table("point", points.USES).values()))
    use.refunded_at = 99.0
    result.state["reservation"][reservations.RESERVATIONS][use.reservation_id].status = ReservationStatus.FAILED


def never_settled(result: RunResult) -> None:
    result.phases = Phases(result.phases.workload_end, result.phases.heal_at, None, result.phases.ended_at)


def stores_apart(result: RunResult) -> None:
    """A shift whose new store lost a user's charge: the two stores disagree on that user."""
    design = result.scenario.design.model_copy(update={"point_shift": 20})
    result.scenario = result.scenario.model_copy(update={"design": design})
    old = copy.deepcopy(result.state["point"])
    new = copy.deepcopy(old)
    charge = next(key for key, entry in new[points.LEDGER].items() if entry.kind == "charge")
    del new[points.LEDGER][charge]
    result.state["point_old"], result.state["point_new"] = old, new


def two_holds_for_one_request(result: RunResult) -> None:
    hold_op = next(op for op in result.history if op.action == "hold" and op.outcome == "ok")
    made = next(r for r in result.trace.of_kind("event.raised")
                if r.data["type"] == "SeatReservedEvent" and r.trace_id == hold_op.op_id)
    ghost = copy.deepcopy(made)
    ghost.data["payload"].update(reservation_id="res-ghost", seat_no=99)
    result.trace.records.insert(result.trace.records.index(made) + 1, ghost)
    for seq, record in enumerate(result.trace.records):
        record.seq = seq


def orphaned(result: RunResult) -> None:
    confirmed(result)[0].status = ReservationStatus.FAILED


def delivered_unreadable(result: RunResult) -> None:
    """An upgrade in which Concert could not read a SeatReservedEvent v2 it was delivered."""
    from concertsim.scenarios.schema import SchemaUpgrade

    result.scenario = result.scenario.model_copy(update={"schema_upgrade": SchemaUpgrade(
        event="SeatReservedEvent", producers_at=1.0, consumers_at=2.0)})
    raised = next(r for r in result.trace.of_kind("event.raised") if r.data["type"] == "SeatReservedEvent")
    refused = TraceRecord(0, raised.at, "consumer.unreadable", "concert", raised.trace_id, {
        "group": "concert", "event_id": raised.data["event_id"], "type": "SeatReservedEvent", "version": 2,
        "reads": 1, "reader": "strict"})
    result.trace.records.insert(result.trace.records.index(raised) + 1, refused)
    for seq, record in enumerate(result.trace.records):
        record.seq = seq


def read_as_a_default(result: RunResult) -> None:
    """An upgrade in which Concert read a SeatReservedEvent's seat as its default, 0."""
    from concertsim.scenarios.schema import SchemaUpgrade

    result.scenario = result.scenario.model_copy(update={"schema_upgrade": SchemaUpgrade(
        event="SeatReservedEvent", producers_at=1.0, consumers_at=2.0, reader="tolerant", defaults=True)})
    raised = next(r for r in result.trace.of_kind("event.raised") if r.data["type"] == "SeatReservedEvent")
    read = TraceRecord(0, raised.at, "consumer.read", "concert", raised.trace_id, {
        "group": "concert", "event_id": raised.data["event_id"], "type": "SeatReservedEvent", "version": 2,
        "reads": 1, "reader": "tolerant", "payload": {**raised.data["payload"], "seat_no": 0}})
    result.trace.records.insert(result.trace.records.index(raised) + 1, read)
    for seq, record in enumerate(result.trace.records):
        record.seq = seq


def snapshot_off_by_a_charge(result: RunResult) -> None:
    """An event-sourced account whose snapshot missed one of the events it covers."""
    from concertsim.models.points import STREAM_OPENED, Snapshot

    user_id = next(iter(result.table("point", points.ACCOUNTS)))
    entries = tuple(sorted(e for e, entry in result.table("point", points.LEDGER).items() if entry.user_id == user_id))
    result.state["point"][points.STREAMS] = {
        (user_id, 0): STREAM_OPENED, **{(user_id, version): e for version, e in enumerate(entries, 1)}}
    result.state["point"][points.SNAPSHOTS] = {user_id: Snapshot(user_id, len(entries), -1)}


def call_given_up_early(result: RunResult) -> None:
    """A call the caller stopped waiting for at once, long before its timeout."""
    answered = next(r for r in result.trace.of_kind("call.return") if r.data["outcome"] == "ok")
    answered.data["outcome"] = "timeout"


def hold_freed_by_a_redelivered_release(result: RunResult) -> None:
    """Concert handles a seat's earlier hold and its release again after the seat was held anew:
    the view shows the new hold's seat free with every event of the seat handled."""
    from concertsim.checks.seats.seat_view_timeliness import SEAT_EVENTS

    records = result.trace.records
    by_seat: dict[tuple[int, int], list] = {}
    handled: dict[str, int] = {}
    for record in result.trace.of_kind("event.raised", "consumer.handled"):
        if record.kind == "event.raised" and record.data["type"] in SEAT_EVENTS:
            payload = record.data["payload"]
            by_seat.setdefault((payload["date_id"], payload["seat_no"]), []).append(record)
        elif record.kind == "consumer.handled" and record.data["group"] == "concert":
            handled[record.data["event_id"]] = record.seq
    for events in by_seat.values():
        for first, release, second, *rest in (events[i:] for i in range(len(events) - 2)):
            if (first.data["type"], second.data["type"]) != ("SeatReservedEvent", "SeatReservedEvent") or \
                    release.data["type"] not in ("ReservationExpiredEvent", "ReservationFailedEvent"):
                continue
            after = handled[second.data["event_id"]]
            before = rest[0].seq if rest else len(records)
            if before - after < 4:
                continue
            for seq, event in ((after + 1, first), (after + 2, release)):
                records[seq].kind = "consumer.handled"
                records[seq].data = {"group": "concert", "event_id": event.data["event_id"], "type": event.data["type"]}
            result.trace = _retraced(records)
            return
    raise AssertionError("no seat was held again after a release")


def _retraced(records: list[TraceRecord]) -> Trace:
    """A trace of ``records`` as edited in place: a trace indexes its records by kind when first
    read, and in a run a record's kind never changes."""
    trace = Trace()
    trace.records = records
    return trace


def _migrating(result: RunResult, *records: tuple[str, str, dict]) -> None:
    """``result`` as a run of the default migration plan, with ``records`` (kind, party, data)
    appended to its trace at its end."""
    from concertsim.scenarios.migration_plan import MigrationPlan

    design = result.scenario.design.model_copy(update={"topology": "monolith"})
    result.scenario = result.scenario.model_copy(update={"design": design, "migration": MigrationPlan()})
    at = result.phases.ended_at
    for kind, party, data in records:
        result.trace.records.append(TraceRecord(len(result.trace.records), at, kind, party, None, data))


def _copied(result: RunResult, *, last_written_on: str, owner: str, lost_on: str) -> None:
    """Both stores as the clean run's Point, except that one ledger entry last written on
    ``last_written_on`` is missing from ``lost_on``; every user owned by ``owner``."""
    old = copy.deepcopy(result.state["point"])
    new = copy.deepcopy(old)
    key, entry = next(iter(old[points.LEDGER].items()))
    del (old if lost_on == "point" else new)[points.LEDGER][key]
    result.state["point_old"], result.state["point_new"] = old, new
    owners = {user: owner for user in result.table("point", points.ACCOUNTS)}
    result.state["point_migration"] = {"last_writes": {(points.LEDGER, key): (last_written_on, entry)},
                                       "owners": {**owners, None: owner}, "keyed_writes": {}}


def write_never_copied(result: RunResult) -> None:
    """The cutover handed the new store a copy without a write the old store took during it."""
    _migrating(result, ("migration.step", "migration", {"step": 0, "action": "copy", "outcome": "done",
                                                         "service": "point"}))
    _copied(result, last_written_on="point", owner="point_new", lost_on="point_new")


def rollback_lost_a_write(result: RunResult) -> None:
    """A rollback whose copy back never brought the new store's write to the old store."""
    _migrating(result, ("migration.step", "migration", {"step": 0, "action": "copy", "outcome": "done",
                                                         "service": "point"}),
               ("migration.step", "migration", {"step": 1, "action": "rollback", "outcome": "done",
                                                "service": "point"}))
    _copied(result, last_written_on="point_new", owner="point", lost_on="point")


def queue_token_lost(result: RunResult) -> None:
    """The old store issued a token after the cutover (a stale router's request, no fence) that the
    new store, owning the line, never got."""
    from concertsim.scenarios.migration_plan import MigrationPlan

    design = result.scenario.design.model_copy(update={"topology": "point_split"})
    result.scenario = result.scenario.model_copy(update={"design": design,
                                                         "migration": MigrationPlan(service="queue")})
    at = result.phases.ended_at
    for kind, party, data in (("migration.step", "migration", {"step": 0, "action": "copy", "outcome": "done",
                                                                "service": "queue"}),
                              ("migration.write", "queue", {"users": [3], "cut_over": True, "rolled_back": False})):
        result.trace.records.append(TraceRecord(len(result.trace.records), at, kind, party, None, data))
    result.state["queue_migration"] = {"issued": {"tok-999": ("queue", 999)}, "owner": {None: "queue_new"}}


def concert_sale_counted_twice(result: RunResult) -> None:
    """The new Concert, owning the projection after the cutover, counted a sale the copy had
    already brought (a seat event applied by both stores)."""
    from concertsim.scenarios.migration_plan import MigrationPlan

    design = result.scenario.design.model_copy(update={"topology": "queue_split"})
    result.scenario = result.scenario.model_copy(update={"design": design,
                                                         "migration": MigrationPlan(service="concert")})
    at = result.phases.ended_at
    result.trace.records.append(TraceRecord(len(result.trace.records), at, "migration.step", "migration", None,
                                            {"step": 0, "action": "copy", "outcome": "done", "service": "concert"}))
    tally = result.state["concert"][concert.TALLIES][1]
    result.state["concert"][concert.TALLIES][1] = replace(tally, sold_count=tally.sold_count + 1)
    result.state["concert_migration"] = {"owner": {None: "concert_new"}}


def reservation_payment_lost(result: RunResult) -> None:
    """The new Reservation, owning the data after the cutover, lacks a payment the old store
    confirmed before it (a change the copy lost)."""
    from concertsim.scenarios.migration_plan import MigrationPlan

    design = result.scenario.design.model_copy(update={"topology": "concert_split"})
    result.scenario = result.scenario.model_copy(update={"design": design,
                                                         "migration": MigrationPlan(service="reservation")})
    at = result.phases.ended_at
    result.trace.records.append(TraceRecord(len(result.trace.records), at, "migration.step", "migration", None,
                                            {"step": 0, "action": "copy", "outcome": "done",
                                             "service": "reservation"}))
    payments = result.state["reservation"][reservations.PAYMENTS]
    key = next(iter(payments))
    written = payments.pop(key)
    result.state["reservation_migration"] = {"last_writes": {(reservations.PAYMENTS, key): ("reservation", written)},
                                             "owner": {None: "reservation_new"}}


def charge_applied_in_both_stores(result: RunResult) -> None:
    _migrating(result, ("migration.moved", "migration", {"user_id": 1, "to": "point_new", "pending": 2}))
    result.state["point_migration"] = {"last_writes": {}, "owners": {None: "point"},
                                       "keyed_writes": {"op-7": ("point", "point_new")}}


def read_back_in_time(result: RunResult) -> None:
    _migrating(result,
               ("migration.read", "point", {"user_id": 1, "endpoint": "point.charge", "version": 2}),
               ("migration.read", "point_new", {"user_id": 1, "endpoint": "point.use", "version": 1}))


def old_store_wrote_after_cutover(result: RunResult) -> None:
    _migrating(result, ("migration.write", "point", {"users": [3], "cut_over": True, "rolled_back": False}))


DAMAGES: dict[str, Callable[[RunResult], None]] = {
    "no-double-booking": sold_twice,
    "no-duplicate-holds": two_holds_for_one_request,
    "points-never-negative": balance_below_zero,
    "points-ledger-balanced": ledger_off_balance,
    "no-double-refund": refunded_twice,
    "point-replay-consistent": snapshot_off_by_a_charge,
    "charge-exactly-once": charged_twice,
    "queue-capacity": capacity_one,
    "calls-wait-their-timeout": call_given_up_early,
    "no-orphaned-deduction": orphaned,
    "seats-released-on-expiry": expired_hold_still_held,
    "seat-view-converges": seat_view_behind,
    "seat-view-timely": hold_freed_by_a_redelivered_release,
    "seat-cache-bounded": cached_listing_shows_a_sold_seat,
    "ranking-converges": sale_counted_twice,
    "data-platform-exactly-once": collected_twice,
    "no-lost-events": event_dropped,
    "dead-letters-drain": parked_for_good,
    "events-readable": delivered_unreadable,
    "events-read-as-written": read_as_a_default,
    "client-outcomes-honoured": paid_and_expired,
    "refunds-visible": refund_hidden,
    "honest-buyer-confirmed": paid_but_failed,
    "sagas-terminate": never_settled,
    "point-stores-agree": stores_apart,
    "migration-no-lost-write": write_never_copied,
    "migration-no-double-spend": charge_applied_in_both_stores,
    "migration-reads-monotonic": read_back_in_time,
    "migration-one-owner": old_store_wrote_after_cutover,
    "migration-rollback-lossless": rollback_lost_a_write,
    "migration-queue-tokens-kept": queue_token_lost,
    "migration-concert-view-kept": concert_sale_counted_twice,
    "migration-reservation-kept": reservation_payment_lost,
}


def test_every_invariant_has_a_damage_that_breaks_it() -> None:
    assert set(DAMAGES) == set(REGISTRY)


@pytest.mark.parametrize("invariant", list(DAMAGES))
def test_a_violation_of_each_invariant_names_its_records(clean: RunResult, invariant: str) -> None:
    result = copy.deepcopy(clean)
    DAMAGES[invariant](result)
    (verdict,) = check_run(result, [invariant])
    assert verdict.violations, f"the damage breaks {invariant}"
    for violation in verdict.violations[:5]:
        assert_proven(result, violation)

