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
) -> FaultSpec:
    """One fault of one of ``kinds``, starting within ``horizon`` seconds; a crash strikes one of
    ``crash_targets``.

    A message fault strikes the ``focus`` message (a channel and a message type) three times in
    four, and any channel and message type otherwise.

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
        elif kind == "duplicate" and draw(st.booleans()):
            # A copy that comes seconds later (a mesh's or a client's resend) outlives what the
            # original met: a failing commit, a timeout, a decline.
            params = {"gap": 2.0}
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
) -> tuple[FaultSpec, ...]:
    """A schedule of ``min_faults`` to ``max_faults`` faults, swarm-style: the example first
    enables a subset of ``kinds`` and picks one of :data:`SAGA_MESSAGES` as its focus, then draws
    faults of the enabled kinds only, its message faults aimed at the focus three times in four (so
    that several faults of one example meet on the same message: a lost reply and a duplicated
    request of the same deduction, say). One example in four opens with :func:`server_trouble`
    on the focus call, on the hold's scale (``hold_ttl``). ``extra_focus`` are messages of the
    base's own mechanisms (a migration's copy), each as likely a focus as the deduction."""
    ordered = sorted(kinds, key=FAULT_KINDS.index)
    enabled = draw(st.lists(st.sampled_from(ordered), min_size=1, max_size=len(ordered), unique=True))
    enabled.sort(key=FAULT_KINDS.index)
    focus = draw(st.sampled_from(_FOCUS_WEIGHTED + tuple(extra_focus) * 3))
    trouble: list[FaultSpec] = []
    if max_faults >= 2 and draw(st.integers(0, 3)) == 0:
        trouble = draw(server_trouble(kinds, horizon, focus, hold_ttl))
    faults = draw(
        st.lists(
            fault_specs(enabled, horizon, max_duration, reorder_within_partition, focus, crash_targets),
            min_size=max(0, min(min_faults, max_faults) - len(trouble)), max_size=max_faults - len(trouble),
        )
    )
    return tuple(sorted([*trouble, *faults], key=lambda f: f.at))


_MIGRATION_COPY: tuple[tuple[str, str | None], ...] = (("request", REPLICATE), ("reply", REPLICATE))
"""The messages a migration's copy turns on: the batches it sends the new store and their
acknowledgements (a base without a migration plan never draws them, and draws as before)."""

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


@st.composite
def scenarios(
    draw: st.DrawFn,
    base: Scenario | None = None,
    kinds: Sequence[str] = FAULT_KINDS,
    max_faults: int = 4,
    max_users: int = 30,
    reorder_within_partition: bool = False,
) -> Scenario:
    """``base`` (default: a small ticket opening) with a drawn workload, seed and fault schedule."""
    base = base or small_base()
    if "pause" in kinds and len(kinds) > 1 and not any(t for t in crash_targets_of(base) if "#" in t):
        # A pause makes zombies of replicas; a base without replicas draws as it did before it.
        kinds = [k for k in kinds if k != "pause"]
    # The seed and workload are drawn before the faults, so that when shrinking deletes a fault
    # the rest of the example (and so the run's randomness) stays the same.
    seed = draw(st.integers(0, 2**16))
    workload = draw(workloads(max_users, base.rules.hold_ttl))
    busiest = min(base.workload.duration, base.workload.flash_window + 25.0)
    faults = draw(
        fault_schedules(kinds, max_faults, busiest, 20.0, reorder_within_partition,
                        crash_targets=crash_targets_of(base), hold_ttl=base.rules.hold_ttl,
                        extra_focus=_MIGRATION_COPY if base.migration is not None else ())
    )
    data = base.model_dump()
    data["workload"] = {**data["workload"], **workload}
    data["faults"] = [f.model_dump() for f in faults]
    data["seed"] = seed
    return Scenario.model_validate(data)


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
