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


def _tenths(low: float, high: float) -> st.SearchStrategy[float]:
    """Times on a 0.1 s grid: integers shrink towards ``low`` and print legibly."""
    return st.integers(int(low * 10), int(high * 10)).map(lambda n: n / 10)


_PARTITIONS = tuple(
    [f"{a}|{b}" for i, a in enumerate(PARTIES) for b in PARTIES[i + 1 :]]
    + [f"{a}->{b}" for a in PARTIES for b in PARTIES if a != b]
)
"""Both directions of every pair, one way or both: a one-way cut of a service's replies
(``point->reservation``) lets requests through and loses the answers."""


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
            match = draw(_filter_on(st.just(focus[1])))
        else:
            target = draw(st.sampled_from(channels))
            match = draw(_message_filter(target))
        if kind == "delay":
            params = {"seconds": draw(st.sampled_from([0.5, 2.0, 10.0, 30.0]))}
        elif kind == "reorder":
            params = {"window": draw(st.sampled_from([0.5, 5.0]))}
    elif kind == "commit_failure":
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
) -> tuple[FaultSpec, ...]:
    """A schedule of ``min_faults`` to ``max_faults`` faults, swarm-style: the example first
    enables a subset of ``kinds`` and picks one of :data:`SAGA_MESSAGES` as its focus, then draws
    faults of the enabled kinds only, its message faults aimed at the focus three times in four (so
    that several faults of one example meet on the same message: a lost reply and a duplicated
    request of the same deduction, say)."""
    ordered = sorted(kinds, key=FAULT_KINDS.index)
    enabled = draw(st.lists(st.sampled_from(ordered), min_size=1, max_size=len(ordered), unique=True))
    enabled.sort(key=FAULT_KINDS.index)
    focus = draw(st.sampled_from(_FOCUS_WEIGHTED))
    faults = draw(
        st.lists(
            fault_specs(enabled, horizon, max_duration, reorder_within_partition, focus, crash_targets),
            min_size=min(min_faults, max_faults), max_size=max_faults,
        )
    )
    return tuple(sorted(faults, key=lambda f: f.at))


@st.composite
def workloads(draw: st.DrawFn, max_users: int = 30) -> dict[str, Any]:
    """A small workload (as scenario fields) that shrinks towards fewer users and less variety."""
    return {
        "users": draw(st.integers(1, max_users)),
        "flash_window": draw(_tenths(1, 20)),
        "abandon_probability": draw(st.sampled_from([0.0, 0.2, 0.5])),
        "initial_points": draw(st.sampled_from([0, 50_000, 200_000])),
    }


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
    workload = draw(workloads(max_users))
    busiest = min(base.workload.duration, base.workload.flash_window + 25.0)
    faults = draw(
        fault_schedules(kinds, max_faults, busiest, 20.0, reorder_within_partition,
                        crash_targets=crash_targets_of(base))
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
