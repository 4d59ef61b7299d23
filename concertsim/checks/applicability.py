"""When a run cannot judge an invariant: the ``applies`` functions the invariants register with
(:mod:`concertsim.checks.base`).

Each returns the reason the invariant is not applicable to a finished run (its mechanism is off,
or nothing in the run exercised it), or None when the run can judge it. Each looks at what the
promise is about, never at whether it was kept: the verdict asks only when the check found no
violation, and a run that did exercise the promise is judged, however little it did.
"""

from __future__ import annotations

from concertsim.checks.evidence import plan_steps_of
from concertsim.models import points, reservations
from concertsim.models.reservations import ReservationStatus
from concertsim.models.schemas import LEDGER_ENTRY
from concertsim.sim.run.result import RunResult

__all__ = [
    "service_moved",
    "point_storage_events", "schema_upgraded", "schema_read", "point_shifted", "charge_asked", "points_refunded",
    "refund_made", "events_parked", "payment_answered", "seat_held", "hold_ran_out", "money_moved",
    "reservation_confirmed", "event_raised", "seat_listing_cached",
]

_OPEN = (ReservationStatus.HELD, ReservationStatus.PAYMENT_PENDING)
_UNPAID_ENDS = (ReservationStatus.EXPIRED, ReservationStatus.FAILED)


def point_storage_events(result: RunResult) -> str | None:
    """``point-replay-consistent`` judges event-sourced accounts only."""
    storage = result.scenario.design.point_storage
    return None if storage == "events" else f"Point's accounts are not event-sourced (design.point_storage={storage})"


def schema_upgraded(result: RunResult) -> str | None:
    """``events-readable`` judges a rolling upgrade of an event's schema, if the scenario has one
    and the schema registry let version 2 ship."""
    rollout = result.scenario.schema_rollout()
    if rollout is None:
        return "no event schema is upgraded (no schema_upgrade)"
    if not rollout.shipped:
        return f"no event schema is upgraded: the schema registry refused v2 ({rollout.refused})"
    if rollout.event_type == LEDGER_ENTRY and result.scenario.design.point_storage != "events":
        return (f"{LEDGER_ENTRY} is the schema of Point's event-sourced streams, and Point's accounts are not "
                "event-sourced (design.point_storage=state)")
    return None


def schema_read(result: RunResult) -> str | None:
    """``events-read-as-written`` judges what consumers derived from the upgraded event's records:
    it needs an upgrade that shipped and a consumer that read one."""
    reason = schema_upgraded(result)
    if reason is not None:
        return reason
    rollout = result.scenario.schema_rollout()
    if rollout is not None and rollout.event_type == LEDGER_ENTRY:
        if not any(result.table(service, points.STREAM_RECORDS) for service in result.state):
            return "no stream event was stored as a record"
        return None
    if next(iter(result.trace.of_kind("consumer.read")), None) is None:
        return "no consumer read an event of the upgraded schema"
    return None


def service_moved(result: RunResult, service: str, name: str) -> str | None:
    """A migration plan moving ``service`` (``name`` in the reason) ran and copied its data."""
    plan = result.scenario.migration
    if plan is None:
        return "no migration plan runs (no migration:)"
    if plan.plan_of(service) is None:
        moved = ", ".join(p.service for p in plan.chain())
        return f"the plan moves {moved}, not {name}"
    copied = any(r.data["action"] == "copy" and r.data["outcome"] == "done" for r in plan_steps_of(result, service))
    return None if copied else f"the plan never copied {name}'s data"


def point_shifted(result: RunResult) -> str | None:
    """``point-stores-agree`` compares two Point stores, which exist only during a traffic shift."""
    shift = result.scenario.design.point_shift
    return None if shift else "no traffic shift to the split-out Point (design.point_shift=0)"


def charge_asked(result: RunResult) -> str | None:
    """``charge-exactly-once`` judges the charges clients asked for."""
    if any(op.action == "charge" for op in result.history):
        return None
    return "no client asked for a charge"


def points_refunded(result: RunResult) -> str | None:
    """``refunds-visible`` judges what buyers are shown of the points given back."""
    if any(use.refunded_at is not None for use in result.table("point", points.USES).values()):
        return None
    return "no points were given back"


def refund_made(result: RunResult) -> str | None:
    """``no-double-refund`` judges the refunds in Point's ledger."""
    if any(entry.kind == "refund" for entry in result.table("point", points.LEDGER).values()):
        return None
    return "no deduction was refunded"


def events_parked(result: RunResult) -> str | None:
    """``dead-letters-drain`` judges the events parked in a dead-letter topic during the run."""
    if not result.scenario.design.dead_letter:
        return "dead-letter topics are off (design.dead_letter=false)"
    if next(iter(result.trace.of_kind("broker.dead_letter")), None) is not None:
        return None
    return "no event was parked in a dead-letter topic"


def payment_answered(result: RunResult) -> str | None:
    """``client-outcomes-honoured`` judges the payments whose clients were told an outcome (ok,
    fail or unknown)."""
    if any(op.action == "pay" and op.outcome is not None for op in result.history):
        return None
    return "no client was told the outcome of a payment"


def seat_listing_cached(result: RunResult) -> str | None:
    """``seat-cache-bounded`` judges the listings served from Concert's seat cache."""
    mode = result.scenario.seat_cache.mode
    if mode == "none":
        return "Concert has no seat cache (seat_cache.mode=none)"
    if next(iter(result.trace.of_kind("cache.hit")), None) is None:
        return "no seat listing was served from the cache"
    return None


def seat_held(result: RunResult) -> str | None:
    """``no-double-booking`` and ``no-duplicate-holds`` judge the holds made."""
    if result.table("reservation", reservations.RESERVATIONS):
        return None
    return "no seat was held"


def hold_ran_out(result: RunResult) -> str | None:
    """``seats-released-on-expiry`` judges the holds that ended unpaid, and the ones still open two
    sweeps after their TTL ran out (later ones the run did not wait for)."""
    last = result.phases.ended_at - 2 * result.scenario.rules.sweep_interval
    for reservation in result.table("reservation", reservations.RESERVATIONS).values():
        if reservation.status in _UNPAID_ENDS or (reservation.status in _OPEN and reservation.hold_expires_at <= last):
            return None
    return "no hold ran out unpaid"


def money_moved(result: RunResult) -> str | None:
    """``no-orphaned-deduction`` judges each deduction and each confirmed reservation."""
    if result.table("point", points.USES) or reservation_confirmed(result) is None:
        return None
    return "no points were deducted and no reservation was confirmed"


def reservation_confirmed(result: RunResult) -> str | None:
    """``data-platform-exactly-once`` judges what Data Platform holds of the confirmed reservations."""
    if any(r.status == ReservationStatus.CONFIRMED for r in result.table("reservation", reservations.RESERVATIONS).values()):
        return None
    return "no reservation was confirmed"


def event_raised(result: RunResult) -> str | None:
    """``no-lost-events`` judges the events services raised."""
    return None if next(iter(result.trace.of_kind("event.raised")), None) is not None else "no event was raised"
