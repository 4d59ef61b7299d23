"""The seed's flows end to end, without faults, for both payment flows (seed 3.1, 3.2, 4.2.1)."""

from __future__ import annotations

from collections import Counter

import pytest

from concertsim.checks import check_run
from concertsim.models import concert, data_platform, points, reservations
from concertsim.models.reservations import ReservationStatus, SeatStatus
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

FLOWS = ["sync", "choreography"]


@pytest.fixture(scope="module", params=FLOWS)
def result(request):
    return run_scenario(small_scenario(f"design.payment_flow={request.param}"))


def test_run_settles_and_every_invariant_holds(result) -> None:
    assert result.phases.settled_at is not None
    failing = {v.invariant.id: v.violations[:3] for v in check_run(result) if v.violated}
    assert failing == {}


def test_some_reservations_are_confirmed_and_some_expire(result) -> None:
    statuses = Counter(r.status for r in result.table("reservation", reservations.RESERVATIONS).values())
    assert statuses[ReservationStatus.CONFIRMED] > 0
    assert statuses[ReservationStatus.EXPIRED] > 0


def test_every_confirmed_reservation_has_exactly_one_deduction(result) -> None:
    uses = Counter(u.reservation_id for u in result.table("point", points.USES).values() if u.refunded_at is None)
    for r in result.table("reservation", reservations.RESERVATIONS).values():
        if r.status == ReservationStatus.CONFIRMED:
            assert uses[r.reservation_id] == 1, r
        else:
            assert uses[r.reservation_id] == 0, r


def test_no_seat_is_confirmed_twice(result) -> None:
    confirmed = Counter(
        (r.date_id, r.seat_no)
        for r in result.table("reservation", reservations.RESERVATIONS).values()
        if r.status == ReservationStatus.CONFIRMED
    )
    assert confirmed and max(confirmed.values()) == 1


def test_unpaid_holds_end_expired_with_the_seat_free_on_both_sides(result) -> None:
    booked = result.table("reservation", reservations.RESERVATIONS)
    seats = result.table("reservation", reservations.SEATS)
    view = result.table("concert", concert.SEAT_VIEW)
    expired = [r for r in booked.values() if r.status == ReservationStatus.EXPIRED]
    assert expired
    for r in expired:
        address = (r.date_id, r.seat_no)
        assert seats[address].reservation_id != r.reservation_id
        assert view[address].reservation_id != r.reservation_id or view[address].status == SeatStatus.AVAILABLE
    assert not [r for r in booked.values() if r.status in (ReservationStatus.HELD, ReservationStatus.PAYMENT_PENDING)]


def test_ranking_and_data_platform_agree_with_confirmed_reservations(result) -> None:
    confirmed = sorted(
        r.reservation_id
        for r in result.table("reservation", reservations.RESERVATIONS).values()
        if r.status == ReservationStatus.CONFIRMED
    )
    collected = sorted(c.reservation_id for c in result.table("data_platform", data_platform.COLLECTED).values())
    assert collected == confirmed
    tallies = result.table("concert", concert.TALLIES)
    assert sum(t.sold_count for t in tallies.values()) == len(confirmed)
