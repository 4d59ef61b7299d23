"""Publishing straight to the broker after the commit, with no outbox (``design.publish:
dual_write``, the anti-pattern of seed 6.2): a crash or a broker failure between the commit and the
publish loses the event.

A host publishes through a :class:`~concertsim.sim.messaging.event_broker.ProducerSession` of its current
incarnation, opened at its first publish: a restart opens a new one, so nothing a restarted host
sends is a retry of what it sent before.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.models.events import Event
from concertsim.sim.hosting.host import Host
from concertsim.sim.messaging.event_broker import EventBroker, ProducerSession

__all__ = ["DualWrite"]


class DualWrite:
    """``host``'s :class:`~concertsim.sim.hosting.host.Publisher` with dual writes: each event published
    to ``broker`` through the producer session of the host's incarnation."""

    __slots__ = ("broker", "host", "_session")

    def __init__(self, broker: EventBroker, host: Host) -> None:
        self.broker = broker
        self.host = host
        self._session: tuple[int, ProducerSession] | None = None

    def session(self) -> ProducerSession:
        """This incarnation's producer session: a restart opens a new one."""
        host = self.host
        if self._session is None or self._session[0] != host.incarnation:
            self._session = (host.incarnation, ProducerSession(host.world, host.name))
        return self._session[1]

    def publish(self, event: Event) -> Generator[simpy.Event, Any, bool]:
        """Publish ``event``; True if the broker acknowledged it."""
        return (yield from self.broker.publish(self.session(), event))
