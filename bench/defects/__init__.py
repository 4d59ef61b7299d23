"""The catalogue of planted defects, one module per mechanism: each module's ``DEFECTS`` holds the
realistic one-line defects of that mechanism, each with the witness that shows it harmful.

The runner that plants them and measures whether the verifier notices is
``bench/planted_defects.py``; this package is data only (no subprocess, no I/O).
"""

from __future__ import annotations

from . import (
    broker,
    concert,
    consumers,
    event_sourcing,
    gateway,
    membership,
    orchestrator,
    point_shift,
    points,
    queue,
    rabbitmq,
    relay,
    reservation,
    schemas,
    seat_cache,
    storage,
    sweeper,
)
from .defect import FLOWS, Defect

__all__ = ["Defect", "DEFECTS", "FLOWS", "MECHANISMS", "WITNESSES", "by_mechanism"]

MECHANISMS = {
    "consumers": consumers.DEFECTS,
    "relay": relay.DEFECTS,
    "broker": broker.DEFECTS,
    "storage": storage.DEFECTS,
    "gateway": gateway.DEFECTS,
    "reservation": reservation.DEFECTS,
    "points": points.DEFECTS,
    "sweeper": sweeper.DEFECTS,
    "queue": queue.DEFECTS,
    "concert": concert.DEFECTS,
    "orchestrator": orchestrator.DEFECTS,
    "membership": membership.DEFECTS,
    "rabbitmq": rabbitmq.DEFECTS,
    "event_sourcing": event_sourcing.DEFECTS,
    "schemas": schemas.DEFECTS,
    "point_shift": point_shift.DEFECTS,
    "seat_cache": seat_cache.DEFECTS,
}
"""Mechanism name -> its defects, in the catalogue's order."""

DEFECTS: tuple[Defect, ...] = tuple(d for defects in MECHANISMS.values() for d in defects)

WITNESSES: dict[str, tuple[str, ...]] = {d.id: (*d.settings, *d.witness) for d in DEFECTS}
"""Defect id -> the overrides of its scenario its witness runs with: ``Defect.settings``, then
``Defect.witness``."""


def by_mechanism(defect_id: str) -> str:
    """The mechanism (module name) a defect belongs to. Raises KeyError for an unknown id."""
    return next(name for name, defects in MECHANISMS.items() for d in defects if d.id == defect_id)
