"""What a fault can aim at: the fault kinds, the endpoints and event types a message filter names,
the crash targets and partitions, and the saga's own messages an example focuses on."""

from __future__ import annotations

from functools import lru_cache
from typing import get_args

from hypothesis import strategies as st

from concertsim.models.events import PAYLOAD_TYPES
from concertsim.scenarios.schema import (
    DOMAIN_SERVICES,
    PARTIES,
    FaultKind,
    MessageFilter,
)
from concertsim.sim.run.system import SERVICE_MODULES

__all__ = ["FAULT_KINDS", "ENDPOINT_NAMES", "EVENT_TYPES", "SAGA_MESSAGES"]


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


_CALLER_OF: dict[str, str] = {
    callee: caller for module in SERVICE_MODULES.values() for caller, callees in module.CALLS.items()
    for callee in callees
}
"""A service endpoint -> the endpoint whose handler calls it (``point.use`` -> ``reservation.pay``)."""
