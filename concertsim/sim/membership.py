"""A replicated service's consumer group and leases: who consumes which partition, who runs the
service's one-of-a-kind loops, and how that moves when replicas crash and return (seed 8.2).

The replicas of a service are the members of its consumer group. Each (topic, partition) the group
reads is assigned to one member, round robin by replica number over the members in order
(partition p of every topic goes to member ``p mod m``). The service's singleton loops (the
outbox relay with ``design.single_relay``, the retry-topic consumer, the scheduled jobs: the hold
expiry sweeper, queue activation, saga recovery) run on one member, the *lease holder*: the
lowest-numbered member when the lease is first given or taken over, and it keeps the lease while it
stays a member (a lease is not taken back when a lower-numbered replica returns).

Membership changes as Kafka's does with a session timeout:

- a replica that crashes stays a member for ``broker.rebalance_delay`` seconds; its partitions
  and leases are idle meanwhile. If it is back within the delay it simply resumes them (its
  restart restarts its loops). Otherwise it leaves the group and the group rebalances: its
  partitions go to the members left, which start from the group's committed offsets, so what it
  handled without committing is delivered again (the inbox absorbs it, seed 4.2.3); its leases go
  to the lowest-numbered member.
- a replica that restarts after leaving joins at once and the group rebalances again: partitions
  move back to it. A partition is revoked from its current owner where it stands (its consumer
  loop is stopped, as a consumer that does not commit on revocation), so events it handled since
  its last commit are delivered again to the new owner.

Each rebalance that changes something is a ``broker.rebalance`` record: the members, the moves
(topic, partition, from, to), the lease holder and why. The first assignment, at time 0, is one
too. With one replica there is nothing to move and no coordinator: the service runs as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple

import simpy

if TYPE_CHECKING:
    from concertsim.sim.host import DaemonFactory, Host
    from concertsim.sim.world import World

__all__ = ["ServiceGroup", "PartitionLoop", "REBALANCE"]

REBALANCE = "broker.rebalance"


class PartitionLoop(NamedTuple):
    """The consumer loop of one (topic, partition) of the group, made for the replica it runs on."""

    daemon: str
    topic: str
    partition: int
    make: Callable[[Host], DaemonFactory]


class ServiceGroup:
    """The members of one replicated service's consumer group and its lease (see the module)."""

    def __init__(self, world: World, service: str, replicas: list[Host], rebalance_delay: float) -> None:
        self.world = world
        self.env = world.env
        self.service = service
        self.replicas = replicas
        self.rebalance_delay = rebalance_delay
        self.members: list[Host] = list(replicas)
        self.partition_loops: list[PartitionLoop] = []
        self.leased: dict[str, Callable[[Host], DaemonFactory]] = {}
        self.owners: dict[str, Host | None] = {}
        """daemon name of a partition loop -> the replica running it (None: unassigned)"""
        self.lease_holder: Host | None = None
        for replica in replicas:
            replica.lifecycle_listeners.append(self._lifecycle)

    # --- what the group runs ---------------------------------------------------------------------

    def consume(self, daemon: str, topic: str, partition: int, make: Callable[[Host], DaemonFactory]) -> None:
        self.partition_loops.append(PartitionLoop(daemon, topic, partition, make))

    def lease(self, daemon: str, make: Callable[[Host], DaemonFactory]) -> None:
        self.leased[daemon] = make

    def start(self) -> None:
        """Give out the first assignment and the lease (recorded as a rebalance at time 0)."""
        self._rebalance("start")

    # --- membership ------------------------------------------------------------------------------

    def _lifecycle(self, replica: Host) -> None:
        if replica.is_up:
            if replica not in self.members:
                self.members = [r for r in self.replicas if r in self.members or r is replica]
                self._rebalance(f"{replica.name} joined")
        else:
            self.env.process(self._session_timeout(replica, replica.incarnation))

    def _session_timeout(self, replica: Host, incarnation: int) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.rebalance_delay)
        if replica.is_up or replica.incarnation != incarnation or replica not in self.members:
            return  # back within the session timeout, or already gone
        self.members = [r for r in self.members if r is not replica]
        self._rebalance(f"{replica.name} left (session timeout)")

    # --- rebalancing -----------------------------------------------------------------------------

    def assignment(self) -> dict[str, Host | None]:
        """Partition p of each topic to member ``p mod m`` (None when the group has no member)."""
        members = self.members
        return {
            loop.daemon: members[loop.partition % len(members)] if members else None
            for loop in self.partition_loops
        }

    def _rebalance(self, reason: str) -> None:
        moved: list[list[Any]] = []
        target = self.assignment()
        for loop in self.partition_loops:
            old, new = self.owners.get(loop.daemon), target[loop.daemon]
            if old is new:
                continue
            if old is not None:
                old.withdraw_daemon(loop.daemon)
            if new is not None:
                new.daemon(loop.daemon, loop.make(new))
            self.owners[loop.daemon] = new
            moved.append([loop.topic, loop.partition, _name(old), _name(new)])
        previous = holder = self.lease_holder
        if holder not in self.members:
            holder = self.members[0] if self.members else None
        lease_moved = holder is not self.lease_holder
        if lease_moved:
            for daemon, make in self.leased.items():
                if self.lease_holder is not None:
                    self.lease_holder.withdraw_daemon(daemon)
                if holder is not None:
                    holder.daemon(daemon, make(holder))
            self.lease_holder = holder
        if moved or lease_moved:
            self.world.record(
                REBALANCE, self.service, None, group=self.service, reason=reason,
                members=[m.name for m in self.members], moved=moved, lease=_name(holder),
                lease_from=_name(previous),
            )


def _name(host: Host | None) -> str | None:
    return None if host is None else host.name
