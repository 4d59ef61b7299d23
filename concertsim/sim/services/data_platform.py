"""Data Platform: collects completed reservations for analysis (seed 2, 3.1)."""

from __future__ import annotations

from concertsim.models import data_platform
from concertsim.models.events import Event, EventPayload, ReservationCompleted
from concertsim.sim.hosting.host import EventWork, Handler, Host
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.services.common import Job

__all__ = ["ENDPOINTS", "subscriptions", "jobs"]

ENDPOINTS: dict[str, Handler] = {}
CALLS: dict[str, tuple[str, ...]] = {}
PUBLISHES: tuple[str, ...] = ()


def subscriptions(host: Host) -> dict[str, EventWork]:
    def collect(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        assert isinstance(event.payload, ReservationCompleted)
        data_platform.collect(tx, host.world, event.payload, now)
        return []

    return {ReservationCompleted.TYPE: collect}


def jobs(host: Host) -> dict[str, Job]:
    return {}
