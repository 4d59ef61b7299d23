"""Hypothesis strategies for workloads and fault schedules (public API).

The strategies are swarm-style: each example first draws *which* fault kinds are enabled, so some
examples hammer one kind of failure and others mix several. Every part is declared so that Hypothesis
shrinks towards the simplest failing case: fewer faults, fewer users, earlier times, shorter
windows, narrower message filters.

    >>> from hypothesis import given
    >>> from concertsim.strategies import scenarios
    >>> @given(scenarios())
    ... def test_design_keeps_its_promises(scenario): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, get_args

from hypothesis import strategies as st

from concertsim.models.events import PAYLOAD_TYPES
from concertsim.scenarios.loader import load_builtin
from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.scenarios.schema import (
    CHANNELS,
    DOMAIN_SERVICES,
    PARTIES,
    SERVICE_NAMES,
    FaultKind,
    FaultSpec,
    MessageFilter,
    Scenario,
)
from concertsim.sim.run.point_shift import REPLICATE
from concertsim.sim.run.system import SERVICE_MODULES

__all__ = [
    "EXPLORATION_BASE",
    "small_base",
    "FAULT_KINDS",
    "fault_specs",
    "fault_schedules",
    "workloads",
    "storage_settings",
    "migration_plans",
    "copy_trouble",
    "scenarios",
    "ENDPOINT_NAMES",
    "EVENT_TYPES",
    "SAGA_MESSAGES",
]

EXPLORATION_BASE = "small-opening"
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
# The saga's own messages first: a filter shrinks towards the first entry, and most draws should
# land where the design's promises are at stake.
_SAGA_ENDPOINTS = ("point.use", "reservation.pay", "concert.check_seat", "reservation.hold")
_SAGA_EVENTS = (
    "ReservationFailedEvent", "PointUsedEvent", "ReservationCompletedEvent", "SeatReservedEvent",
    "ReservationExpiredEvent",
)
ENDPOINT_NAMES = _SAGA_ENDPOINTS + tuple(
    sorted(n for m in SERVICE_MODULES.values() for n in m.ENDPOINTS if n not in _SAGA_ENDPOINTS)
)
EVENT_TYPES = _SAGA_EVENTS + tuple(sorted(t for t in PAYLOAD_TYPES if t not in _SAGA_EVENTS))
_CRASH_TARGETS = (
    *DOMAIN_SERVICES,
    "broker",
    *(f"relay:{s}" for s in DOMAIN_SERVICES),
    *(f"consumer:{s}" for s in DOMAIN_SERVICES),
    "gateway",
)
_MESSAGE_KINDS = ("drop", "duplicate", "delay", "reorder")
SAGA_MESSAGES: tuple[tuple[str, str | None], ...] = (
    ("reply", "point.use"),
    ("request", "point.use"),
    ("delivery", "PointUsedEvent"),
    ("delivery", "ReservationFailedEvent"),
    ("delivery", "SeatReservedEvent"),
    ("reply", "reservation.pay"),
    ("request", "reservation.pay"),
    ("publish", "ReservationFailedEvent"),
    ("publish", "PointUsedEvent"),
    ("delivery", "ReservationCompletedEvent"),
    ("delivery", "ReservationExpiredEvent"),
    ("offset_commit", None),
    ("ack", None),
)
"""The messages on which the sagas' promises turn (the channel and the message type a fault aims
at): the deduction and its reply, the events that confirm, fail, refund and project a reservation,
and the broker's own bookkeeping. An example picks one as its focus (see :func:`fault_schedules`),
the deduction's request and reply three times as often as the others: every promise about points turns
on them."""
_FOCUS_WEIGHTED = SAGA_MESSAGES[:2] * 2 + SAGA_MESSAGES


@lru_cache(maxsize=None)
def _tenths(low: float, high: float) -> st.SearchStrategy[float]:
    """Times on a 0.1 s grid: integers shrink towards ``low`` and print legibly."""
    return st.integers(int(low * 10), int(high * 10)).map(lambda n: n / 10)


_PARTITIONS = tuple(
    [f"{a}|{b}" for i, a in enumerate(PARTIES) for b in PARTIES[i + 1 :]]
    + [f"{a}->{b}" for a in PARTIES for b in PARTIES if a != b]
)
"""Both directions of every pair, one way or both: a one-way cut of a service's replies
(``point->reservation``) lets requests through and loses the answers."""


# The strategies below are built once per argument and kept: a strategy is an immutable value,
# and Hypothesis validates each new one on its first draw, which cost a tenth of a search's time
# when every draw of a fault built them afresh. The examples drawn are the same.
@lru_cache(maxsize=None)
def _message_filter(channel: str) -> st.SearchStrategy[MessageFilter]:
    """Aimed at one message type more often than not: a fault on every message of a channel
    tends to stop the workload before it reaches the interleavings worth finding."""
    if channel in ("request", "reply"):
        saga, everything = _SAGA_ENDPOINTS, ENDPOINT_NAMES
    else:
        saga, everything = _SAGA_EVENTS, EVENT_TYPES
    return _filter_on(st.sampled_from(saga) | st.sampled_from(everything) | st.none())


def _filter_on(message_type: st.SearchStrategy[str | None]) -> st.SearchStrategy[MessageFilter]:
    """Half the filters strike every matching message in the window (no skip, no count, rate 1):
    a retried call escapes a fault that strikes one attempt in two, and most broken promises need
    every attempt to fail."""
    every = st.builds(MessageFilter, message_type=message_type)
    some = st.builds(
        MessageFilter,
        message_type=message_type,
        skip=st.integers(0, 3),
        count=st.none() | st.integers(1, 3),
        rate=st.sampled_from([1.0, 0.5, 0.1]),
    )
    return every | some


@lru_cache(maxsize=None)
def _focus_filter(message_type: str | None) -> st.SearchStrategy[MessageFilter]:
    return _filter_on(st.just(message_type))


def _server_of(focus: tuple[str, str | None] | None) -> str | None:
    """The service that answers the focus message, if it is a call's request or reply."""
    if focus is None or focus[0] not in ("request", "reply") or focus[1] is None:
        return None
    owner = focus[1].partition(".")[0]
    return owner if owner in DOMAIN_SERVICES else None


@st.composite
def fault_specs(
    draw: st.DrawFn,
    kinds: Sequence[str] = FAULT_KINDS,
    horizon: float = 60.0,
    max_duration: float = 20.0,
    reorder_within_partition: bool = False,
    focus: tuple[str, str | None] | None = None,
    crash_targets: Sequence[str] = _CRASH_TARGETS,
    call_span: float = 1.0,
) -> FaultSpec:
    """One fault of one of ``kinds``, starting within ``horizon`` seconds; a crash strikes one of
    ``crash_targets``.

    A message fault strikes the ``focus`` message (a channel and a message type) three times in
    four, and any channel and message type otherwise. A duplicate comes at once, 2 s late, or
    ``call_span`` late: the time a service's call keeps trying before it gives up (the base's
    call timeout times its attempts), when a caller that timed out resends while the original is
    still being served, so that the two copies end apart.

    A ``reorder`` of broker deliveries breaks the broker's own guarantee (order within a
    partition), which the design builds on; it is only drawn when ``reorder_within_partition``.
    """
    kind = draw(st.sampled_from(sorted(kinds, key=FAULT_KINDS.index)))
    # The windows that matter: the flash crowd's first seconds, when most sagas are in flight, and
    # faults that last until the heal phase (duration 0), which every later saga meets.
    at = draw(_tenths(0, min(5.0, horizon)) | _tenths(0, horizon))
    duration = draw(st.just(0.0) | _tenths(0, max_duration))
    match: MessageFilter | None = None
    params: dict[str, float] = {}
    if kind == "crash":
        target = draw(st.sampled_from(crash_targets))
    elif kind == "partition":
        target = draw(st.sampled_from(_PARTITIONS))
    elif kind in _MESSAGE_KINDS:
        channels = [c for c in CHANNELS if reorder_within_partition or kind != "reorder" or c != "delivery"]
        if focus is not None and focus[0] in channels and draw(st.integers(0, 3)) < 3:
            target = focus[0]
            match = draw(_focus_filter(focus[1]))
        else:
            target = draw(st.sampled_from(channels))
            match = draw(_message_filter(target))
        if kind == "delay":
            params = {"seconds": draw(st.sampled_from([0.5, 2.0, 10.0, 30.0]))}
        elif kind == "reorder":
            params = {"window": draw(st.sampled_from([0.5, 5.0]))}
        elif kind == "duplicate":
            # A copy that comes seconds later (a mesh's or a client's resend) outlives what the
            # original met: a failing commit, a timeout, a decline; one that comes while the
            # original is still served ends after it, each copy answering on its own.
            gap = draw(st.sampled_from([None, 2.0, call_span]))
            params = {} if gap is None else {"gap": gap}
    elif kind == "commit_failure":
        served_by = _server_of(focus)
        if served_by is not None and draw(st.integers(0, 3)) < 3:
            target = served_by  # the focus call's server fails its commits: its answers and its copies' differ
        else:
            target = draw(st.sampled_from(DOMAIN_SERVICES))
        params = {"rate": draw(st.sampled_from([1.0, 0.5]))}
    elif kind == "pause":
        replicas = [t for t in crash_targets if "#" in t]
        target = draw(st.sampled_from(replicas or list(DOMAIN_SERVICES)))
        # A pause matters when it outlasts the session timeout: up to a minute, past Kafka's 45 s.
        duration = draw(st.sampled_from([5.0, 15.0, 30.0, 60.0]))
    else:
        target = draw(st.sampled_from(SERVICE_NAMES))
        if kind == "slow":
            params = {"factor": draw(st.sampled_from([5.0, 50.0]))}
        else:
            params = {"seconds": draw(st.sampled_from([-30.0, 30.0, 200.0]))}
    return FaultSpec(at=at, kind=kind, target=target, duration=duration, match=match, params=params)


@st.composite
def fault_schedules(
    draw: st.DrawFn,
    kinds: Sequence[str] = FAULT_KINDS,
    max_faults: int = 4,
    horizon: float = 60.0,
    max_duration: float = 20.0,
    reorder_within_partition: bool = False,
    min_faults: int = 1,
    crash_targets: Sequence[str] = _CRASH_TARGETS,
    hold_ttl: float = 20.0,
    extra_focus: Sequence[tuple[str, str | None]] = (),
    call_span: float = 1.0,
    answered_by_event: bool = False,
    moves: tuple[float, float] | None = None,
    saga_driven: bool = False,
    until: float | None = None,
) -> tuple[FaultSpec, ...]:
    """A schedule of ``min_faults`` to ``max_faults`` faults, swarm-style: the example first
    enables a subset of ``kinds`` and picks one of :data:`SAGA_MESSAGES` as its focus, then draws
    faults of the enabled kinds only, its message faults aimed at the focus three times in four (so
    that several faults of one example meet on the same message: a lost reply and a duplicated
    request of the same deduction, say). One example in two opens with trouble on the focus
    call, on the hold's scale (``hold_ttl``): :func:`server_trouble` or :func:`hung_call`.
    ``extra_focus`` are messages of the base's own mechanisms (a migration's copy), each as likely
    a focus as the deduction. ``call_span`` is how long the base's service calls keep trying (see
    :func:`fault_specs`); ``answered_by_event``, whether its payments learn the deduction's outcome
    from an event, and ``saga_driven``, whether a persisted saga drives them (the orchestration
    flow: a hung call's caller then restarts during the hang one time in two, see :func:`hung_call`;
    only if ``max_faults`` leaves room for three faults, and never after ``until``, the workload's
    end, when every fault is healed). Given the span in which a migration plan
    ``moves`` users, one example in two of the rest opens with :func:`copy_trouble` over it (a base
    without a plan draws as before)."""
    ordered = sorted(kinds, key=FAULT_KINDS.index)
    enabled = draw(st.lists(st.sampled_from(ordered), min_size=1, max_size=len(ordered), unique=True))
    enabled.sort(key=FAULT_KINDS.index)
    focus = draw(st.sampled_from(_FOCUS_WEIGHTED + tuple(extra_focus) * 3))
    trouble: list[FaultSpec] = []
    if max_faults >= 2 and draw(st.integers(0, 3)) < 2:
        trouble = draw(server_trouble(kinds, horizon, focus, hold_ttl)
                       | hung_call(kinds, horizon, focus, hold_ttl, call_span, answered_by_event,
                                   caller_restarts=saga_driven and max_faults >= 3, until=until))
    if moves is not None and not trouble and max_faults >= 2 and draw(st.booleans()):
        trouble = draw(copy_trouble(kinds, moves))
    if not trouble and max_faults >= 2 and "pause" in enabled and any("#" in t for t in crash_targets):
        trouble = draw(frozen_caller(kinds, horizon, focus, crash_targets))
    faults = draw(
        st.lists(
            fault_specs(enabled, horizon, max_duration, reorder_within_partition, focus, crash_targets,
                        call_span),
            min_size=max(0, min(min_faults, max_faults) - len(trouble)), max_size=max_faults - len(trouble),
        )
    )
    return tuple(sorted([*trouble, *faults], key=lambda f: f.at))


def _copy_messages(service: str) -> tuple[tuple[str, str | None], ...]:
    """The messages a migration's copy of ``service`` turns on: the batches it sends the new store
    and their acknowledgements (``point.replicate``, ``queue.replicate``, ``concert.replicate``; a
    base without a migration plan never draws them, and draws as before)."""
    replicate = REPLICATE if service == "point" else f"{service}.replicate"
    return (("request", replicate), ("reply", replicate))


_RETRIED_ACROSS_A_MOVE: dict[str, str] = {
    "point": "point.charge", "queue": "queue.issue_token", "concert": "concert.check_seat",
}
"""The call of each moving service whose lost replies make a client send its request again after
its timeout (``workload.client_timeout``), so that the two attempts can reach the service on both
sides of a move: a top-up (keyed: the second attempt must find the first's key), a request for a
place in line (one token a user: the second must find the first), a hold whose seat check
(``reservation.hold`` calls ``concert.check_seat``) goes unanswered (the retried hold's check must
not be answered from a view that stopped following the seat events)."""


class Moves(tuple[float, float]):
    """When a plan moves its users, ``(first, last)`` (see :func:`plan_moves`), and the service it
    moves (``service``): a pair, as :func:`fault_schedules` takes it."""

    service: str

    def __new__(cls, first: float, last: float, service: str = "point") -> Moves:
        moves = super().__new__(cls, (first, last))
        moves.service = service
        return moves


_LATE_MESSAGE_FAULTS = ("duplicate", "delay")
_PAYING_CALLS = ("point.use", "reservation.pay")


@st.composite
def server_trouble(
    draw: st.DrawFn,
    kinds: Sequence[str],
    horizon: float,
    focus: tuple[str, str | None],
    hold_ttl: float,
) -> list[FaultSpec]:
    """Two faults that meet on one call, as real incidents do: the call's server fails every
    commit for a while, answering "unavailable" (it wrote nothing), and from the same moment until
    the heal phase the call's requests are copied late or held back, so that copies reach the server
    on both sides of its recovery. A request answered "unavailable" whose copy later succeeds is the
    shape of orphaned deductions and of declines taken for final. The call is the focus if the focus
    is a call, else one of the payment's; nothing if ``kinds`` lacks failing commits or late
    messages.

    The times are on the hold's scale (``hold_ttl``): a failure shorter than a hold is absorbed by
    the retries a payment makes while its hold has time, so the failure lasts one and a half or two
    holds; a copy comes one or two holds late, so that it can land after the failure ended."""
    message_kinds = [k for k in _LATE_MESSAGE_FAULTS if k in kinds]
    if "commit_failure" not in kinds or not message_kinds:
        return []
    server = _server_of(focus)
    call = focus[1] if server is not None else draw(st.sampled_from(_PAYING_CALLS))
    server = server or call.partition(".")[0]
    at = draw(_tenths(0, horizon))
    duration = draw(st.sampled_from([1.5 * hold_ttl, 2 * hold_ttl]))
    failing = FaultSpec(at=at, kind="commit_failure", target=server, duration=duration)
    late_kind = draw(st.sampled_from(message_kinds))
    lateness = draw(st.sampled_from([hold_ttl, 2 * hold_ttl]))
    late_params = {"gap": lateness} if late_kind == "duplicate" else {"seconds": lateness}
    late = FaultSpec(
        at=at, kind=late_kind, target="request", duration=0.0,
        match=MessageFilter(message_type=call), params=late_params,
    )
    return [failing, late]


_RESTART = 5.0
"""How long a restarted service is down (seconds): a process killed and started again."""

_CALLER_OF: dict[str, str] = {
    callee: caller for module in SERVICE_MODULES.values() for caller, callees in module.CALLS.items()
    for callee in callees
}
"""A service endpoint -> the endpoint whose handler calls it (``point.use`` -> ``reservation.pay``)."""


@st.composite
def hung_call(
    draw: st.DrawFn,
    kinds: Sequence[str],
    horizon: float,
    focus: tuple[str, str | None],
    hold_ttl: float,
    call_span: float,
    answered_by_event: bool = False,
    caller_restarts: bool = False,
    until: float | None = None,
) -> list[FaultSpec]:
    """Two faults that meet on one call and the call that made it, as a retry storm does: the
    call hangs (its requests or its replies are lost, so every attempt times out and its effect is
    in doubt) for one and a half or two holds, and from the same moment its caller's requests are
    copied ``call_span`` late: the resend of a client that timed out, arriving while the first
    request is still being served, so that the two copies give up and answer apart. The call is
    the focus if the focus is a call that a service makes, else Point's ``point.use``; nothing if
    ``kinds`` lacks lost or copied messages.

    ``answered_by_event``: the payment learns the deduction's outcome from Point's PointUsedEvent
    (the choreography flow), not from the call's reply; the deduction hangs there by that event's
    deliveries being held back one or two holds (a ``delay``, if ``kinds`` has it).

    ``caller_restarts``: one time in two (if ``kinds`` has crashes) the caller's service also
    restarts during the hang, a quarter or half a hold after it began, down for a few seconds
    (:data:`_RESTART`): a deploy, or the caller killed for its memory as the storm's requests pile
    up in it. Its calls in doubt at that moment lose the process that made them, which is what a
    design that resumes its payments from a persisted state (the orchestration flow's recovery
    job) must survive. A restart that would come after ``until`` (the workload's end, when every
    fault is healed) is left out. Without ``caller_restarts`` the draws are those of the two faults
    alone."""
    if "drop" not in kinds or "duplicate" not in kinds or (answered_by_event and "delay" not in kinds):
        return []
    call = focus[1] if focus[0] in ("request", "reply") and focus[1] in _CALLER_OF else "point.use"
    at = draw(_tenths(0, horizon))
    duration = draw(st.sampled_from([1.5 * hold_ttl, 2 * hold_ttl]))
    if answered_by_event and call == "point.use":
        hanging = FaultSpec(at=at, kind="delay", target="delivery", duration=duration,
                            match=MessageFilter(message_type="PointUsedEvent"),
                            params={"seconds": draw(st.sampled_from([hold_ttl, 2 * hold_ttl]))})
    else:
        hanging = FaultSpec(at=at, kind="drop", target=draw(st.sampled_from(["request", "reply"])),
                            duration=duration, match=MessageFilter(message_type=call))
    resent = FaultSpec(at=at, kind="duplicate", target="request", duration=duration,
                       match=MessageFilter(message_type=_CALLER_OF[call]), params={"gap": call_span})
    if not caller_restarts or "crash" not in kinds or not draw(st.booleans()):
        return [hanging, resent]
    restart_at = round(at + draw(st.sampled_from([0.25 * hold_ttl, 0.5 * hold_ttl])), 1)
    if until is not None and restart_at > until:
        return [hanging, resent]
    restart = FaultSpec(at=restart_at, kind="crash", target=_CALLER_OF[call].partition(".")[0], duration=_RESTART)
    return [hanging, resent, restart]


_FROZEN = (30.0, 60.0)
"""How long :func:`frozen_caller` freezes a replica: past the session timeout (10 s in the replicated
bases, Kafka's 45 s by default), as a long stop-the-world collection or a VM suspension does."""


@st.composite
def frozen_caller(
    draw: st.DrawFn,
    kinds: Sequence[str],
    horizon: float,
    focus: tuple[str, str | None],
    crash_targets: Sequence[str],
) -> list[FaultSpec]:
    """Two faults that meet on one replica, as a zombie incident does: a call hangs for a few
    seconds (its requests or replies are lost, so the attempts of that moment time out, their
    effect in doubt), and while its caller's attempts are out one replica of the calling service
    freezes (a ``pause``) for half a minute or a minute: it is evicted from its group, its work is
    taken over by the replicas left, and when it resumes it acts on what it knew before it froze.
    The call is the focus if the focus is a call that a replicated service makes, else
    ``point.use``; nothing if ``kinds`` lacks ``drop`` or the caller has no replicas."""
    call = focus[1] if focus[0] in ("request", "reply") and focus[1] in _CALLER_OF else "point.use"
    service = _CALLER_OF[call].partition(".")[0]
    replicas = [t for t in crash_targets if t.partition("#")[0] == service and "#" in t]
    if "drop" not in kinds or not replicas:
        return []
    at = draw(_tenths(0, min(5.0, horizon)) | _tenths(0, horizon))
    hangs = draw(st.sampled_from([5.0, 10.0]))
    hanging = FaultSpec(at=at, kind="drop", target=draw(st.sampled_from(["request", "reply"])),
                        duration=hangs, match=MessageFilter(message_type=call))
    frozen = FaultSpec(at=round(at + draw(_tenths(0, hangs)), 1), kind="pause", target=draw(st.sampled_from(replicas)),
                       duration=draw(st.sampled_from(_FROZEN)))
    return [hanging, frozen]


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


@st.composite
def workloads(draw: st.DrawFn, max_users: int = 30, hold_ttl: float | None = None) -> dict[str, Any]:
    """A small workload (as scenario fields) that shrinks towards fewer users and less variety.

    Given the base's ``hold_ttl``, a third of the workloads have buyers who pay in the last quarter
    of their hold: the payments that race the hold's expiry, where a late answer meets a swept
    hold and a seat already held again (real checkouts see them at every countdown's end)."""
    drawn: dict[str, Any] = {
        "users": draw(st.integers(1, max_users)),
        "flash_window": draw(_tenths(1, 20)),
        "abandon_probability": draw(st.sampled_from([0.0, 0.2, 0.5])),
        # The simplest buyer can pay for one seat; one with nothing must top up first.
        "initial_points": draw(st.sampled_from([50_000, 0, 200_000])),
    }
    if hold_ttl is not None and draw(st.integers(0, 2)) == 2:
        drawn["think_time"] = {"kind": "uniform", "low": 0.75 * hold_ttl, "high": hold_ttl}
    return drawn


_RAMPS = (5.0, 10.0, 2.0, 20.0)
"""How long a drawn shift ramps its users over (seconds), the likeliest first."""


@st.composite
def migration_plans(draw: st.DrawFn, plan: MigrationPlan, workload_duration: float, busiest: float) -> MigrationPlan:
    """``plan`` as it is (one example in four), or re-timed so that its shift ramps while the users
    are busiest: copy at the start, the shift from a time within ``busiest`` seconds over 2 to 20 s,
    a cutover a moment after it, and, one plan in two, a verify before and after the ramp. The
    plan's switches (its safeguards) stay as given. A Queue or Concert plan (no shift: the waiting
    line, or the projection and its reads, move at once) is re-timed to cut over, after a verify
    one plan in two, within ``busiest`` seconds.

    A plan's failures are about timing: a user moved while the copy lags is harmed only if they
    still use Point after the move, and a plan that ramps once the crowd has gone (the default
    plan spreads its steps over the whole workload) moves nobody who does. Shrinks towards ``plan``."""
    if draw(st.integers(0, 3)) == 0:
        return plan
    latest = max(0.0, min(busiest, workload_duration - 6.0))
    if plan.service in ("queue", "concert"):
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


@st.composite
def storage_settings(draw: st.DrawFn, base: Scenario) -> dict[str, Any]:
    """Storage fields of ``base`` to vary (as scenario fields): with event-sourced accounts, half the
    examples snapshot a balance after every event instead of the base's interval, so that the
    short streams a small search affords cross several snapshots (a real interval of hundreds is
    crossed only by streams that long). Nothing for another base, which draws as before."""
    if base.design.point_storage != "events" or base.storage.point_snapshot_every == 1:
        return {}
    return {"point_snapshot_every": 1} if draw(st.booleans()) else {}


@st.composite
def scenarios(
    draw: st.DrawFn,
    base: Scenario | None = None,
    kinds: Sequence[str] = FAULT_KINDS,
    max_faults: int = 4,
    max_users: int = 30,
    reorder_within_partition: bool = False,
) -> Scenario:
    """``base`` (default: a small ticket opening) with a drawn workload, seed and fault schedule,
    and, if it carries a migration plan, the plan's timing (:func:`migration_plans`)."""
    base = base or small_base()
    if "pause" in kinds and len(kinds) > 1 and not any(t for t in crash_targets_of(base) if "#" in t):
        # A pause makes zombies of replicas; a base without replicas draws as it did before it.
        kinds = [k for k in kinds if k != "pause"]
    # The seed and workload are drawn before the faults, so that when shrinking deletes a fault
    # the rest of the example (and so the run's randomness) stays the same.
    seed = draw(st.integers(0, 2**16))
    workload = draw(workloads(max_users, base.rules.hold_ttl))
    storage = draw(storage_settings(base))
    busiest = min(base.workload.duration, base.workload.flash_window + 25.0)
    plan = base.migration
    if plan is not None:
        # The users pay within seconds of arriving: the drawn crowd's window, not the base's.
        paying = min(base.workload.duration, workload["flash_window"] + 10.0)
        plan = draw(migration_plans(plan, base.workload.duration, paying))
    faults = draw(
        fault_schedules(kinds, max_faults, busiest, 20.0, reorder_within_partition,
                        crash_targets=crash_targets_of(base), hold_ttl=base.rules.hold_ttl,
                        extra_focus=_copy_messages(plan.service) if plan is not None else (),
                        call_span=call_span_of(base),
                        answered_by_event=base.design.payment_flow == "choreography",
                        saga_driven=base.design.payment_flow == "orchestration", until=base.workload.duration,
                        moves=plan_moves(plan, base.workload.duration) if plan is not None else None)
    )
    data = base.model_dump()
    data["workload"] = {**data["workload"], **workload}
    data["storage"] = {**data["storage"], **storage}
    data["faults"] = [f.model_dump() for f in faults]
    data["seed"] = seed
    if plan is not None:
        data["migration"] = plan.model_dump()
    return Scenario.model_validate(data)


def call_span_of(base: Scenario) -> float:
    """How long one of ``base``'s service-to-service calls keeps trying before it gives up: the
    call timeout times its attempts (the backoff between them left out), rounded to the 0.1 s grid."""
    network = base.network
    return round(network.call_timeout * (network.call_retries + 1), 1) or 0.1


def crash_targets_of(base: Scenario) -> tuple[str, ...]:
    """What a crash may strike in ``base``: every service, relay, consumer set, the broker and the
    gateway, then each replica of a replicated service (``point#2``), listed last so that a base
    without replicas draws exactly as before."""
    replicas = [
        f"{service}#{index}"
        for service in DOMAIN_SERVICES
        for index in range(1, getattr(base.services, service).replicas + 1)
        if getattr(base.services, service).replicas > 1
    ]
    return (*_CRASH_TARGETS, *replicas)


def small_base() -> Scenario:
    """The scenario property tests vary: the built-in ``small-opening``."""
    return load_builtin(EXPLORATION_BASE)
