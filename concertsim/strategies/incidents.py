"""Incidents: two or three faults that meet on one call, as real incidents do (a server in trouble
while copies of its requests arrive late, a hung call and the resend of its caller, a replica of the
caller frozen while its call hangs), on the hold's scale where a shorter fault would be absorbed."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from concertsim.scenarios.schema import (
    DOMAIN_SERVICES,
    FaultSpec,
    MessageFilter,
)
from concertsim.strategies.targets import _CALLER_OF, _SAGA_EVENTS, _server_of, _tenths

__all__ = ["server_trouble", "hung_call", "frozen_caller", "broken_channel"]


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


_CONSUMERS = tuple(f"consumer:{service}" for service in DOMAIN_SERVICES)


@st.composite
def broken_channel(
    draw: st.DrawFn,
    kinds: Sequence[str],
    horizon: float,
    focus: tuple[str, str | None],
) -> list[FaultSpec]:
    """Two faults that meet on consumers' channels to a queue broker (RabbitMQ), as its consumers'
    incidents do: the deliveries or the acknowledgements of one event type are lost for one to
    five seconds, which breaks the channel each was on (the broker notices after a heartbeat and
    requeues what the channel held unacknowledged), and from a moment in that window one consumer
    set restarts, closing its channels with deliveries in hand. The event type is the focus if it
    is an event, else one of the saga's; nothing if ``kinds`` lacks ``drop`` or ``crash``."""
    if "drop" not in kinds or "crash" not in kinds:
        return []
    on_event = focus[0] in ("delivery", "publish") and focus[1] is not None
    event = focus[1] if on_event else draw(st.sampled_from(_SAGA_EVENTS))
    at = draw(_tenths(0, horizon))
    lost = draw(st.sampled_from([1.0, 2.0, 5.0]))
    # A consumer's acknowledgement travels as its offset commit does (the same channel).
    channel = draw(st.sampled_from(["delivery", "offset_commit"]))
    broken = FaultSpec(at=at, kind="drop", target=channel, duration=lost, match=MessageFilter(message_type=event))
    restart = FaultSpec(at=round(at + draw(_tenths(0, lost)), 1), kind="crash",
                        target=draw(st.sampled_from(_CONSUMERS)), duration=_RESTART)
    return [broken, restart]
