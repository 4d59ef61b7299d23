"""Which services share a process: the stages of the migration from the monolith (seed 9).

The seed splits the monolith in stages: (1) Point, the most independent, first; (2) Queue;
(3) Concert, read-heavy; (4) Reservation, the most complex, last, with event-based communication.
``design.topology`` picks one stage; :data:`STAGES` lists the processes of each, in the seed's
order. ``services`` (every service apart) is the design as the rest of the simulation knows it.

A process of one service is what it always was; a process of several services (a
:class:`~concertsim.sim.hosting.shared_process.SharedProcess`) is a monolith, or what remains of one: one
database, worker pool and crash domain, calls between its services as function calls, one local
transaction per request, events between its services handled in the transaction that raises them.
:class:`Topology` places each service's host in its process while the system is wired.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from concertsim.sim.hosting.shared_process import SharedProcess
from concertsim.sim.infrastructure.storage import Database
from concertsim.sim.infrastructure.workers import WorkerPool

if TYPE_CHECKING:
    from concertsim.sim.hosting.host import Host
    from concertsim.sim.infrastructure.world import World

__all__ = ["STAGES", "STAGE_NAMES", "Topology"]

STAGES: dict[str, tuple[tuple[str, ...], ...]] = {
    "monolith": (("reservation", "point", "queue", "concert", "data_platform"),),
    "point_split": (("reservation", "queue", "concert", "data_platform"), ("point",)),
    "queue_split": (("reservation", "concert", "data_platform"), ("point",), ("queue",)),
    "concert_split": (("reservation", "data_platform"), ("point",), ("queue",), ("concert",)),
    "services": (("reservation",), ("point",), ("queue",), ("concert",), ("data_platform",)),
}
"""Each stage's processes, each a tuple of the services it runs (its first one runs the relay and
names the database), in the order of seed 9. Data Platform, which seed 9 does not name, leaves
with Reservation, last."""

STAGE_NAMES: tuple[str, ...] = tuple(STAGES)


class Topology:
    """A stage's processes: which services share a :class:`SharedProcess` (a process of one
    service has none and runs as a plain host)."""

    def __init__(self, world: World, stage: str, publishers: dict[str, str]) -> None:
        """``publishers``: event type -> the service that raises it."""
        self.stage = stage
        self.world = world
        self.groups = STAGES[stage]
        self.publishers = publishers
        self.process_of: dict[str, tuple[str, ...]] = {name: members for members in self.groups for name in members}
        self.shared: dict[str, SharedProcess] = {}

    def lead(self, service: str) -> str:
        """The service that names its process's database and runs its relay."""
        return self.process_of.get(service, (service,))[0]

    def mates(self, service: str) -> tuple[str, ...]:
        """The services of ``service``'s process (itself alone if it runs apart)."""
        return self.process_of.get(service, (service,))

    def database(self, service: str, make: Callable[[str, int], Database]) -> Database:
        """The database ``service`` writes to: one per process, made by ``make(lead, services)``
        (``services``: how many services the process runs, whose connection pools it adds up)."""
        lead = self.lead(service)
        shared = self.shared.get(lead)
        return shared.database if shared is not None else make(lead, len(self.mates(service)))

    def place(self, host: Host, worker_count: Callable[[str], int]) -> None:
        """Put ``host`` in its process: a process of several services shares its first host's
        database and one worker pool of ``worker_count`` summed over its services."""
        members = self.mates(host.name)
        if len(members) < 2:
            return
        lead = members[0]
        if lead not in self.shared:
            assert host.name == lead and host.db is not None, "a process's first service is placed first"
            pool = WorkerPool(self.world.env, sum(worker_count(m) for m in members))
            self.shared[lead] = SharedProcess(self.world, members, host.db, pool)
        self.shared[lead].admit(host)

    def runs_relay(self, service: str) -> bool:
        return self.lead(service) == service

    def handles_inline(self, group: str, event_type: str) -> bool:
        """Whether ``group`` handles ``event_type`` in the raising transaction: its publisher runs
        in the same process of several services."""
        publisher = self.publishers.get(event_type)
        members = self.mates(group)
        return len(members) > 1 and publisher in members

    def finish(self, hosts: dict[str, Host], subscribers: Callable[[str], Sequence[str]]) -> None:
        """Once every host is built: each shared process's endpoints serve in one transaction,
        and it sends to the broker the events a group of another process subscribes to
        (``subscribers``: event type -> the groups subscribed at the broker, asked when an event
        is raised)."""
        for process in self.shared.values():
            process.remote_interest = partial(_outside, subscribers, process.members)
            for name in process.members:
                host = hosts[name]
                host.endpoints = {ep: process.in_one_transaction(handler) for ep, handler in host.endpoints.items()}

    def inline_subscriptions(self) -> dict[str, list[str]]:
        """event type -> the groups that handle it in the raising transaction."""
        found: dict[str, list[str]] = {}
        for process in self.shared.values():
            for event_type, subscribers in process.inline.items():
                found.setdefault(event_type, []).extend(group for group, _ in subscribers)
        return found


def _outside(subscribers: Callable[[str], Sequence[str]], members: tuple[str, ...], event_type: str) -> bool:
    """Whether a group outside ``members`` subscribes to ``event_type`` at the broker."""
    return any(group not in members for group in subscribers(event_type))
