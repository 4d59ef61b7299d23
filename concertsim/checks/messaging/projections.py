"""Read models that must catch up: Concert's seat view and ranking, Data Platform's collection
(seed 4.1, problem 2: follow-up work fails and the data diverges)."""

from __future__ import annotations

from collections import Counter

from concertsim.checks.applicability import reservation_confirmed
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.models import concert, data_platform, reservations
from concertsim.models.reservations import ReservationStatus
from concertsim.models.store import MemoryStore
from concertsim.sim.run.result import RunResult


def _confirmed(result: RunResult) -> list[reservations.Reservation]:
    return sorted(
        (r for r in result.table("reservation", reservations.RESERVATIONS).values()
         if r.status == ReservationStatus.CONFIRMED),
        key=lambda r: r.reservation_id,
    )


@invariant(
    "seat-view-converges",
    "convergence",
    "Concert's seat view ends equal to Reservation's seats (status and holder).",
)
def seat_view_converges(result: RunResult) -> list[Violation]:
    truth = result.table("reservation", reservations.SEATS)
    view = result.table("concert", concert.SEAT_VIEW)
    violations = []
    for address in sorted(truth):
        seat, seen = truth[address], view.get(address)
        if seen is None or seen.status != seat.status or (
            seat.status != reservations.SeatStatus.AVAILABLE and seen.reservation_id != seat.reservation_id
        ):
            violations.append(
                Violation(
                    "seat-view-converges",
                    f"seat {address[1]} of date {address[0]}: Reservation says {seat.status} "
                    f"({seat.reservation_id}), Concert shows "
                    f"{seen.status if seen else 'nothing'} ({seen.reservation_id if seen else None})",
                    at=seen.updated_at if seen else None,
                    evidence={"date_id": address[0], "seat_no": address[1],
                              "reservation": [str(seat.status), seat.reservation_id],
                              "concert": [str(seen.status), seen.reservation_id] if seen else None},
                    records=_handled_by(result, trace_index(result).seat_events(*address), "concert"),
                    saga=seat.reservation_id or (seen.reservation_id if seen else None),
                )
            )
    return violations


@invariant(
    "ranking-converges",
    "convergence",
    "The fast-sell-out ranking ends equal to the one the confirmed reservations imply.",
)
def ranking_converges(result: RunResult) -> list[Violation]:
    dates = list(result.table("concert", concert.DATES).values())
    confirmed = _confirmed(result)
    expected = concert.ranking_from_sales(dates, [(r.date_id, r.confirmed_at) for r in confirmed])
    shown = MemoryStore()
    shown.tables = result.state.get("concert", {})
    actual = concert.ranking(shown)
    violations = []
    if actual != expected:
        violations.append(
            Violation(
                "ranking-converges",
                f"ranking shows {actual}, the confirmed reservations give {expected}",
                evidence={"shown": actual, "expected": expected},
                records=_sales_not_counted_once(result, None),
            )
        )
    sold = Counter(r.date_id for r in confirmed)
    for date_id, tally in sorted(result.table("concert", concert.TALLIES).items()):
        if tally.sold_count != sold.get(date_id, 0):
            violations.append(
                Violation(
                    "ranking-converges",
                    f"date {date_id}: Concert counted {tally.sold_count} sales, "
                    f"{sold.get(date_id, 0)} reservations are confirmed",
                    evidence={"date_id": date_id, "counted": tally.sold_count,
                              "confirmed": sold.get(date_id, 0)},
                    records=_sales_not_counted_once(result, date_id),
                )
            )
    return violations


@invariant(
    "data-platform-exactly-once",
    "convergence",
    "Data Platform holds each confirmed reservation exactly once.",
    applies=reservation_confirmed,
)
def data_platform_exactly_once(result: RunResult) -> list[Violation]:
    collected = Counter(r.reservation_id for r in result.table("data_platform", data_platform.COLLECTED).values())
    confirmed = {r.reservation_id for r in _confirmed(result)}
    violations = []
    for reservation_id in sorted(confirmed | set(collected)):
        times = collected.get(reservation_id, 0)
        expected = 1 if reservation_id in confirmed else 0
        if times != expected:
            violations.append(
                Violation(
                    "data-platform-exactly-once",
                    f"{reservation_id} collected {times} time(s), expected {expected}",
                    evidence={"reservation_id": reservation_id, "collected": times,
                              "confirmed": reservation_id in confirmed},
                    records=_handled_by(
                        result, trace_index(result).events("reservation_id", reservation_id), "data_platform"
                    ),
                    saga=reservation_id,
                )
            )
    return violations


def _handled_by(result: RunResult, raised: list[int], group: str) -> tuple[int, ...]:
    """The events raised at ``raised`` and what ``group`` did with each: handled, skipped as a
    duplicate, failed, dropped or parked (or nothing, which is the point when it is missing)."""
    records = result.trace.lookup(raised)
    index = trace_index(result)
    return seqs(raised, *(index.fate(records[seq].data["event_id"], group) for seq in raised))


def _sales_not_counted_once(result: RunResult, date_id: int | None) -> tuple[int, ...]:
    """The sales (ReservationCompletedEvent, of ``date_id`` or of every date) that Concert did not
    count exactly once, with their handling; all of the date's sales if each was counted once."""
    index = trace_index(result)
    sales = [
        record for record in result.trace.of_kind("event.raised")
        if record.data["type"] == "ReservationCompletedEvent"
        and (date_id is None or record.data["payload"]["date_id"] == date_id)
    ]
    fates = {sale.seq: index.fate(sale.data["event_id"], "concert") for sale in sales}
    fate_records = result.trace.lookup(seq for seqs_of_sale in fates.values() for seq in seqs_of_sale)
    miscounted = [
        seq for seq, fate in fates.items()
        if sum(1 for handled in fate if fate_records[handled].kind == "consumer.handled") != 1
    ]
    sales_seqs = list(fates)
    return _handled_by(result, miscounted or sales_seqs, "concert")
