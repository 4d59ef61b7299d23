"""Read-model staleness: how long after a change of Reservation's truth each read model shows it."""

from __future__ import annotations

from concertsim.checks import check_run
from concertsim.metrics.staleness import AVAILABLE, project_seat, replay_seats, sale_lags
from concertsim.models import concert, reservations
from concertsim.models.events import (
    ReservationCompleted,
    ReservationExpired,
    ReservationFailed,
    SeatReserved,
    seat_key,
)
from tests.metrics.helpers import records_of, small_run

DELAY = 5.0
DELAYED_DELIVERIES_TO_CONCERT = [
    {"at": 0, "kind": "delay", "target": "delivery", "match": {"group": "concert"}, "params": {"seconds": DELAY}},
]
CONCERT_LOSES_EVENTS = [
    {"at": 0, "kind": "commit_failure", "target": "concert", "duration": 10, "params": {"rate": 1.0}},
]


def test_a_seat_is_held_sold_and_released_only_by_its_own_reservation() -> None:
    held = project_seat(AVAILABLE, SeatReserved.TYPE, "res-1")
    assert held == ("HELD", "res-1")
    assert project_seat(held, ReservationCompleted.TYPE, "res-1") == ("SOLD", "res-1")
    assert project_seat(held, ReservationExpired.TYPE, "res-1") == AVAILABLE
    assert project_seat(held, ReservationFailed.TYPE, "res-2") == held  # a stale release of another hold


def _state(seat: reservations.BookingSeat | concert.SeatView) -> tuple[str, str | None]:
    return (str(seat.status), seat.reservation_id)


def test_the_replay_ends_where_reservation_and_concert_ended() -> None:
    outcome = small_run()
    replay = replay_seats(records_of(outcome))
    for name, table, replayed in (("reservation", reservations.SEATS, replay.truth),
                                  ("concert", concert.SEAT_VIEW, replay.view)):
        seats = outcome.result.table(name, table)
        assert {seat_key(*address): _state(seat) for address, seat in seats.items()} == {
            seat_key(*address): replayed.get(seat_key(*address), AVAILABLE) for address in seats
        }
    assert any(state != AVAILABLE for state in replay.truth.values())


def test_without_faults_every_change_is_caught_up_within_milliseconds() -> None:
    staleness = small_run().metrics["staleness"]
    for model in staleness.values():
        assert model["changes"] > 0
        assert model["caught_up"] == model["changes"] and model["never_caught_up"] == 0
        assert 0 < model["lag_ms"]["max_ms"] < 200


def test_a_delay_on_delivery_to_concert_shows_as_staleness_of_about_that_delay() -> None:
    outcome = small_run(faults=DELAYED_DELIVERIES_TO_CONCERT)
    records = records_of(outcome)
    struck_until = outcome.result.phases.heal_at - 2 * DELAY  # the fault holds until the heal
    seat_lags = [end - start for start, end in replay_seats(records).intervals if start < struck_until]
    sale_lags_of_concert = [end - start for start, end in sale_lags(records, "concert") if start < struck_until]
    assert seat_lags and sale_lags_of_concert
    assert DELAY <= min(seat_lags) and DELAY <= min(sale_lags_of_concert)
    # Each delivery waits DELAY; events appended meanwhile wait for the next fetch: up to twice it.
    assert outcome.metrics["event_processing"]["concert"]["age_ms"]["max_ms"] < 2 * DELAY * 1000 + 100
    staleness = outcome.metrics["staleness"]
    assert DELAY * 1000 <= staleness["seat_view"]["lag_ms"]["p50_ms"] < 2 * DELAY * 1000
    assert staleness["data_platform"]["lag_ms"]["max_ms"] < 100  # not delayed
    series = staleness["seat_view"]["series"]
    assert max(series["oldest_lag_ms"]) == staleness["seat_view"]["lag_ms"]["max_ms"]
    assert max(series["peak_pending"]) > 1


def test_changes_concert_never_shows_are_the_seats_its_view_ends_wrong_about() -> None:
    outcome = small_run("design.dead_letter=false", faults=CONCERT_LOSES_EVENTS)
    replay = replay_seats(records_of(outcome))
    staleness = outcome.metrics["staleness"]["seat_view"]
    never = staleness["never_caught_up"]
    assert never > 0
    assert never == sum(1 for _, end in replay.intervals if end is None)
    wrong_at_end = {seat for seat, state in replay.truth.items() if replay.view.get(seat, AVAILABLE) != state}
    judged = next(v for v in check_run(outcome.result) if v.invariant.id == "seat-view-converges")
    assert len(wrong_at_end) == len(judged.violations) > 0
    assert staleness["series"]["peak_pending"][-1] >= len(wrong_at_end)
