"""A migration plan's timing and the incidents of its moves: when a plan moves its users, a plan
re-timed to ramp while the users are busiest, and its copy stalled over the moves while a call its
clients retry loses its answers."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.scenarios.schema import (
    FaultSpec,
    MessageFilter,
)
from concertsim.sim.run.point_shift import REPLICATE
from concertsim.strategies.targets import _tenths

__all__ = ["Moves", "copy_trouble", "plan_moves", "migration_plans"]


def _copy_messages(service: str) -> tuple[tuple[str, str | None], ...]:
    """The messages a migration's copy of ``service`` turns on: the batches it sends the new store
    and their acknowledgements (``point.replicate``, ``queue.replicate``, ``concert.replicate``,
    ``reservation.replicate``; a
    base without a migration plan never draws them, and draws as before)."""
    replicate = REPLICATE if service == "point" else f"{service}.replicate"
    return (("request", replicate), ("reply", replicate))


_RETRIED_ACROSS_A_MOVE: dict[str, str] = {
    "point": "point.charge", "queue": "queue.issue_token", "concert": "concert.check_seat",
    "reservation": "reservation.hold",
}
"""The call of each moving service whose lost replies make a client send its request again after
its timeout (``workload.client_timeout``), so that the two attempts can reach the service on both
sides of a move: a top-up (keyed: the second attempt must find the first's key), a request for a
place in line (one token a user: the second must find the first), a hold whose seat check
(``reservation.hold`` calls ``concert.check_seat``) goes unanswered (the retried hold's check must
not be answered from a view that stopped following the seat events), a hold whose answer is lost
(the retried hold, under the same idempotency key, must find the first one on the store that owns
Reservation's data)."""


class Moves(tuple[float, float]):
    """When a plan moves its users, ``(first, last)`` (see :func:`plan_moves`), and the service it
    moves (``service``): a pair, as :func:`fault_schedules` takes it."""

    service: str

    def __new__(cls, first: float, last: float, service: str = "point") -> Moves:
        moves = super().__new__(cls, (first, last))
        moves.service = service
        return moves


@st.composite
def copy_trouble(draw: st.DrawFn, kinds: Sequence[str], moves: tuple[float, float]) -> list[FaultSpec]:
    """Two faults that meet on a migration's moves (``moves``: from the first to the last time the
    plan moves users, and, given as :class:`Moves`, the service it moves; Point otherwise), as a
    move's incidents do: from a moment in that span the copy's requests (``<service>.replicate``)
    are lost, so the new store falls behind the old one's commit log, and over the same window the
    replies of the service's call a client retries (:data:`_RETRIED_ACROSS_A_MOVE`: Point's
    top-ups, Queue's requests for a token, Concert's seat checks of a hold) are lost, so that the client,
    after its timeout, sends the call again. A user moved between the two attempts sends the
    second to a store the first's effect has not reached yet, or, the move being a rollback, the
    old store takes the service back while the new one's changes are still on their way. Nothing
    if ``kinds`` lacks ``drop``. (A deduction's caller is the payment saga, whose retries come
    within a fraction of a second and so rarely straddle a move.)"""
    if "drop" not in kinds:
        return []
    service = getattr(moves, "service", "point")
    first, last = moves
    at = draw(_tenths(max(0.0, first - 2.0), max(first, last)))
    duration = draw(st.sampled_from([10.0, 20.0]))
    replicate = _copy_messages(service)[0][1]
    return [
        FaultSpec(at=at, kind="drop", target="request", duration=duration, match=MessageFilter(message_type=replicate)),
        FaultSpec(at=at, kind="drop", target="reply", duration=duration,
                  match=MessageFilter(message_type=_RETRIED_ACROSS_A_MOVE[service])),
    ]


def plan_moves(plan: MigrationPlan, workload_duration: float) -> Moves:
    """When ``plan`` moves users, with the service it moves: over its shift; else from its cutover
    to its rollback (a service that moves at once moves at those two), either alone at it; else at
    its last step."""
    steps = plan.steps_for(workload_duration)
    for step in steps:
        if step.action == "shift":
            return Moves(step.at, step.at + step.duration, plan.service)
    at = [step.at for step in steps if step.action in ("cutover", "rollback")] or [steps[-1].at]
    return Moves(at[0], at[-1], plan.service)


_RAMPS = (5.0, 10.0, 2.0, 20.0)
"""How long a drawn shift ramps its users over (seconds), the likeliest first."""


@st.composite
def migration_plans(draw: st.DrawFn, plan: MigrationPlan, workload_duration: float, busiest: float) -> MigrationPlan:
    """``plan`` as it is (one example in four), or re-timed so that its shift ramps while the users
    are busiest: copy at the start, the shift from a time within ``busiest`` seconds over 2 to 20 s,
    a cutover a moment after it, and, one plan in two, a verify before and after the ramp. The
    plan's switches (its safeguards) stay as given. A Queue, Concert or Reservation plan (no shift:
    the waiting line, the projection and its reads, or the seats and their sagas move at once) is
    re-timed to cut over, after a verify
    one plan in two, within ``busiest`` seconds.

    A plan's failures are about timing: a user moved while the copy lags is harmed only if they
    still use Point after the move, and a plan that ramps once the crowd has gone (the default
    plan spreads its steps over the whole workload) moves nobody who does. Shrinks towards ``plan``."""
    if draw(st.integers(0, 3)) == 0:
        return plan
    latest = max(0.0, min(busiest, workload_duration - 6.0))
    if plan.then is not None:
        return draw(_chain_timing(plan, workload_duration, latest))
    if plan.service in ("queue", "concert", "reservation"):
        # The service moves at once: the cutover (after a verify, one plan in two) while users are busy.
        cutover_at = draw(_tenths(0, latest))
        line = [MigrationStep(at=0.0, action="copy")]
        if draw(st.booleans()):
            line.append(MigrationStep(at=cutover_at, action="verify"))
        line.append(MigrationStep(at=cutover_at, action="cutover"))
        return plan.model_copy(update={"steps": tuple(line)})
    shift_at = draw(_tenths(0, latest))
    ramp = draw(st.sampled_from([d for d in _RAMPS if shift_at + d + 1.0 <= workload_duration]))
    cutover_at = min(workload_duration, shift_at + ramp + draw(st.sampled_from([1.0, 5.0])))
    verified = draw(st.booleans())
    steps = [MigrationStep(at=0.0, action="copy")]
    if verified:
        steps.append(MigrationStep(at=shift_at, action="verify"))
    steps.append(MigrationStep(at=shift_at, action="shift", duration=ramp))
    if verified:
        steps.append(MigrationStep(at=shift_at + ramp, action="verify"))
    steps.append(MigrationStep(at=cutover_at, action="cutover"))
    return plan.model_copy(update={"steps": tuple(steps)})


_GAPS = (1.0, 5.0, 10.0)
"""Seconds between a chained plan's copy and its cutover, and between a cutover and the next
service's copy, the shortest first."""


@st.composite
def _chain_timing(draw: st.DrawFn, plan: MigrationPlan, workload_duration: float, latest: float) -> MigrationPlan:
    """A chain (``then``) re-timed to run its moves back to back while the users are busy: Point's
    shift from a time within ``latest`` seconds over 2 to 20 s, each service's copy right at or a
    moment after the cutover before it, its cutover (after a verify, one plan in two) a moment later;
    a plan never ends after ``workload_duration``. Each plan's switches stay as given."""
    at = draw(_tenths(0, latest))
    retimed: list[MigrationPlan] = []
    for chained in plan.chain():
        steps = [MigrationStep(at=at if retimed else 0.0, action="copy")]
        if chained.service == "point":
            ramp = draw(st.sampled_from([d for d in _RAMPS if at + d + 1.0 <= workload_duration] or [_RAMPS[2]]))
            if draw(st.booleans()):
                steps.append(MigrationStep(at=at, action="verify"))
            steps.append(MigrationStep(at=at, action="shift", duration=ramp))
            at += ramp
        else:
            at += draw(st.sampled_from(_GAPS))
            if draw(st.booleans()):
                steps.append(MigrationStep(at=min(at, workload_duration), action="verify"))
        at = min(at + draw(st.sampled_from(_GAPS[:2])), workload_duration)
        steps.append(MigrationStep(at=at, action="cutover"))
        retimed.append(chained.model_copy(update={"steps": tuple(steps), "then": None}))
    following: MigrationPlan | None = None
    for chained in reversed(retimed):
        following = chained.model_copy(update={"then": following})
    assert following is not None
    return MigrationPlan.model_validate(following.model_dump())
