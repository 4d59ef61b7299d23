"""Fault schedules, swarm-style: one fault at a time (:func:`fault_specs`) and a whole schedule
(:func:`fault_schedules`), which opens with an incident one example in two."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from concertsim.scenarios.schema import (
    CHANNELS,
    DOMAIN_SERVICES,
    SERVICE_NAMES,
    FaultSpec,
    MessageFilter,
)
from concertsim.strategies.incidents import broken_channel, frozen_caller, hung_call, server_trouble
from concertsim.strategies.migration import copy_trouble
from concertsim.strategies.targets import (
    _CRASH_TARGETS,
    _FOCUS_WEIGHTED,
    _MESSAGE_KINDS,
    _PARTITIONS,
    FAULT_KINDS,
    _focus_filter,
    _message_filter,
    _server_of,
    _tenths,
)

__all__ = ["fault_specs", "fault_schedules"]


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
    queue_broker: bool = False,
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
    without a plan draws as before); over replicas, with pauses enabled, with :func:`frozen_caller`;
    over a ``queue_broker`` (RabbitMQ), one in two with :func:`broken_channel` (a Kafka base draws
    as before)."""
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
    if queue_broker and not trouble and max_faults >= 2 and draw(st.booleans()):
        trouble = draw(broken_channel(kinds, horizon, focus))
    faults = draw(
        st.lists(
            fault_specs(enabled, horizon, max_duration, reorder_within_partition, focus, crash_targets,
                        call_span),
            min_size=max(0, min(min_faults, max_faults) - len(trouble)), max_size=max_faults - len(trouble),
        )
    )
    return tuple(sorted([*trouble, *faults], key=lambda f: f.at))
