"""Seats that end unsold while buyers went home without a ticket, and why.

A sale can end with free seats and disappointed users at once: holds that expire (or payments that
fail) release seats after the users who wanted them have given up and left. The run report states
it plainly, and the seat timeline shows the released seats apart from the never-held ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from concertsim.models import reservations
from concertsim.models.reservations import ReservationStatus, SeatStatus
from concertsim.reports.document.formatting import plural, seconds
from concertsim.sim.run.result import RunResult

__all__ = ["UnsoldSeats", "unsold_seats", "released_at", "last_user_left"]

_RELEASED = (ReservationStatus.EXPIRED, ReservationStatus.FAILED)


def released_at(result: RunResult) -> dict[tuple[int, int], float]:
    """Per seat unsold at the end that had been held: when its last hold ended unpaid."""
    seats = result.table("reservation", reservations.SEATS)
    last_end: dict[tuple[int, int], float] = {}
    for r in result.table("reservation", reservations.RESERVATIONS).values():
        seat = (r.date_id, r.seat_no)
        if seat in seats and seats[seat].status != SeatStatus.SOLD and r.status in _RELEASED and r.ended_at is not None:
            last_end[seat] = max(last_end.get(seat, r.ended_at), r.ended_at)
    return last_end


def last_user_left(result: RunResult) -> float | None:
    """When the last client operation of the workload ended (or began, if it never ended)."""
    ends = [op.complete_at if op.complete_at is not None else op.invoke_at for op in result.history]
    return max(ends, default=None)


@dataclass(frozen=True)
class UnsoldSeats:
    """How the seats unsold at the end got there, against the users who left without a ticket."""

    unsold: int
    users_without_ticket: int
    users: int
    released: int
    """Unsold seats that had been held: their hold expired or their payment failed."""
    released_from: float | None
    released_to: float | None
    released_after_last_user: int
    last_user_left: float | None

    @property
    def never_held(self) -> int:
        return self.unsold - self.released

    @property
    def worth_saying(self) -> bool:
        """Seats ended unsold although users left without one."""
        return self.unsold > 0 and self.users_without_ticket > 0

    def sentence(self) -> str:
        """The finding in plain words, or "" when every seat sold or every user got one."""
        if not self.worth_saying:
            return ""
        text = (f"{plural(self.unsold, 'seat')} ended unsold while {self.users_without_ticket} of "
                f"{plural(self.users, 'user')} left without a ticket.")
        if self.released:
            text += (f" {self.released} of those seats had been held and were released when the hold "
                     f"expired or the payment failed, between {seconds(self.released_from)} and "
                     f"{seconds(self.released_to)}")
            if self.released_after_last_user and self.last_user_left is not None:
                text += (f"; {self.released_after_last_user} of them after the last user had left, at "
                         f"{seconds(self.last_user_left)}, when nobody was left to buy them")
            text += "."
        if self.never_held:
            text += f" {plural(self.never_held, 'seat')} {'was' if self.never_held == 1 else 'were'} never held."
        return text


def unsold_seats(result: RunResult, funnel: dict[str, int]) -> UnsoldSeats:
    """The unsold seats of ``result`` against its user ``funnel`` (``concertsim.metrics.funnel``)."""
    released = released_at(result)
    left = last_user_left(result)
    times = sorted(released.values())
    after = sum(1 for at in times if left is not None and at > left)
    return UnsoldSeats(
        unsold=funnel["unsold_seats"],
        users_without_ticket=max(funnel["arrived"] - funnel["confirmed"], 0),
        users=funnel["arrived"],
        released=len(released),
        released_from=times[0] if times else None,
        released_to=times[-1] if times else None,
        released_after_last_user=after,
        last_user_left=left,
    )
