"""A replicated service's consumer group and leases: who consumes which partition, who runs the
service's one-of-a-kind loops, and how that moves when replicas crash, pause, are cut off and
return (seed 8.2), as Kafka's group coordinator does (KIP-345, KIP-848).

The replicas of a service are the members of its consumer group. Each (topic, partition) the group
reads is assigned to one member, round robin by replica number over the members in order
(partition p of every topic goes to member ``p mod m``). The service's singleton loops (the
outbox relay with ``design.single_relay``, the retry-topic consumer, the scheduled jobs: the hold
expiry sweeper, queue activation, saga recovery) run on one member, the *lease holder*: the
lowest-numbered member when the lease is first given or taken over, and it keeps the lease while it
stays a member (a lease is not taken back when a lower-numbered replica returns).

Membership is judged by heartbeats, as Kafka's is:

- every member heartbeats to the coordinator every :data:`HEARTBEAT_INTERVAL` seconds (Kafka's
  ``heartbeat.interval.ms``, from a thread of its own, so a merely slow replica keeps heartbeating).
  A replica that is crashed, paused or cut off from the broker sends none; one whose last heartbeat
  is ``broker.session_timeout`` seconds old is *evicted*. While the broker is down nobody is evicted
  (a new coordinator gives every member a fresh session). ``max.poll.interval.ms`` (300 s) is not
  modelled: no fault stalls a poll loop that long without also stopping the replica's heartbeats.
- a replica that restarts within the session timeout keeps its membership and simply resumes its
  partitions (static membership, KIP-345: it rejoins with its ``group.instance.id`` and no
  rebalance); one that restarts after its eviction joins at once and the group rebalances.
- a replica evicted while still running is a *zombie*: the coordinator cannot stop its loops, which
  carry on with what they held. It finds out at its next heartbeat (it lost its partitions and
  leases: it stops every loop of the group and joins again) or, with ``design.fencing``, at its
  next offset commit or publish, which is refused (Kafka's ILLEGAL_GENERATION for a commit from a
  stale generation; a fencing token older than the lease's for the relay's publish and mark and the
  saga recovery). Without fencing the zombie's commits and publishes are applied until it finds out.

Every rebalance increments the group's *generation*; the members that take part (every member the
coordinator can reach) are of the new generation, a zombie stays of its old one. A rebalance stops
the world for ``broker.rebalance_time`` seconds (eager rebalancing): every reachable member stops
consuming at once, and the new assignment starts when the time is up; a partition a consumer loses
where it stands, so events it handled since its last commit are delivered again (the inbox absorbs
them, seed 4.2.3). An offset commit from a member of the current generation is applied as sent,
even if lower than the committed offset (Kafka accepts it; the consumer only commits positions it
has handled); one from a stale generation is refused with fencing and applied without.

Leases are held through the holder's session: a lease expires when its holder is evicted and is
granted to the lowest-numbered member with the next *fencing token* (Kleppmann, "How to do
distributed locking"). The store or broker compares the token a request carries with the lease's
and refuses an older one (:meth:`ServiceGroup.holds_lease`).

Each rebalance is a ``broker.rebalance`` record: the generation, the members, the moves (topic,
partition, from, to), the lease holder and why. The first assignment, at time 0, is one too, and
does not stop the world. With one replica there is nothing to move and no coordinator: the service
runs as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple

import simpy

from concertsim.sim.infrastructure.network import BROKER_PARTY as BROKER

if TYPE_CHECKING:
    from concertsim.sim.hosting.host import DaemonFactory, Host
    from concertsim.sim.infrastructure.network import Network
    from concertsim.sim.infrastructure.world import World

__all__ = ["ServiceGroup", "PartitionLoop", "REBALANCE", "HEARTBEAT_INTERVAL"]

REBALANCE = "broker.rebalance"
HEARTBEAT_INTERVAL = 3.0
"""Seconds between a member's heartbeats (Kafka's ``heartbeat.interval.ms`` default), or a third of
the session timeout if that is shorter."""


class PartitionLoop(NamedTuple):
    """The consumer loop of one (topic, partition) of the group, made for the replica it runs on."""

    daemon: str
    topic: str
    partition: int
    make: Callable[[Host], DaemonFactory]


class ServiceGroup:
    """The members of one replicated service's consumer group, its generation and its leases (see
    the module)."""

    def __init__(
        self, world: World, service: str, replicas: list[Host], session_timeout: float, rebalance_time: float,
        broker: Any, network: Network, fencing: bool,
    ) -> None:
        self.world = world
        self.env = world.env
        self.service = service
        self.replicas = replicas
        self.session_timeout = session_timeout
        self.rebalance_time = rebalance_time
        self.broker = broker
        self.network = network
        self.fencing = fencing
        self.heartbeat_interval = min(HEARTBEAT_INTERVAL, session_timeout / 3)
        self.members: list[Host] = list(replicas)
        self.generation = 0
        self.member_generation: dict[str, int] = {}
        """replica -> the generation it last took part in (a zombie's is stale)"""
        self.last_heartbeat: dict[str, float] = {r.name: 0.0 for r in replicas}
        self.sessions: dict[str, int] = {}
        """member -> the incarnation the coordinator knows it by (it rejoins after a restart)"""
        self.partition_loops: list[PartitionLoop] = []
        self.leased: dict[str, Callable[[Host], DaemonFactory]] = {}
        self.owners: dict[str, Host | None] = {}
        """daemon name of a partition loop -> the replica assigned it (None: unassigned)"""
        self.lease_holder: Host | None = None
        self.lease_token = 0
        self.held_tokens: dict[str, int] = {}
        """replica -> the fencing token of the lease it was last granted"""
        self._rejoining: set[str] = set()
        for replica in replicas:
            replica.membership = self
            replica.lifecycle_listeners.append(self._lifecycle)

    # --- what the group runs ---------------------------------------------------------------------

    def consume(self, daemon: str, topic: str, partition: int, make: Callable[[Host], DaemonFactory]) -> None:
        self.partition_loops.append(PartitionLoop(daemon, topic, partition, make))

    def lease(self, daemon: str, make: Callable[[Host], DaemonFactory]) -> None:
        self.leased[daemon] = make

    def start(self) -> None:
        """Give out the first assignment and the lease (recorded as a rebalance at time 0), and
        start the coordinator's session clock."""
        self._rebalance("start", stop_the_world=False)
        self.env.process(self._coordinator())

    # --- membership ------------------------------------------------------------------------------

    def _reaches_coordinator(self, replica: Host) -> bool:
        return (replica.is_up and not replica.paused and self.broker.is_up
                and self.network.reachable(replica.name, BROKER))

    def _coordinator(self) -> Generator[simpy.Event, Any, None]:
        """Heartbeats and session timeouts, one tick every heartbeat interval."""
        while True:
            yield self.env.timeout(self.heartbeat_interval)
            now = self.env.now
            for replica in self.replicas:
                if not self._reaches_coordinator(replica):
                    continue
                if replica in self.members:
                    self.last_heartbeat[replica.name] = now
                else:
                    self._rejoin(replica, "heartbeat refused: not a member")
            if not self.broker.is_up:
                for member in self.members:
                    self.last_heartbeat[member.name] = now
                continue
            expired = [m for m in self.members if now - self.last_heartbeat[m.name] >= self.session_timeout]
            if expired:
                self.members = [m for m in self.members if m not in expired]
                self._rebalance(", ".join(m.name for m in expired) + " left (session timeout)")

    def _lifecycle(self, replica: Host) -> None:
        if not replica.is_up:
            return
        if replica in self.members:
            self.sessions[replica.name] = replica.incarnation  # static membership: no rebalance
            self.last_heartbeat[replica.name] = self.env.now
        else:
            self._join(replica, f"{replica.name} joined")

    def _join(self, replica: Host, reason: str) -> None:
        self.last_heartbeat[replica.name] = self.env.now
        self.members = [r for r in self.replicas if r in self.members or r is replica]
        self._rebalance(reason)

    def _rejoin(self, replica: Host, reason: str) -> None:
        """A zombie finds out it was evicted: it stops every loop it ran for the group (its
        partitions and leases are lost) and joins again."""
        if replica.name in self._rejoining or replica in self.members or not replica.is_up:
            return
        self._rejoining.add(replica.name)
        self.env.process(self._rejoin_later(replica, reason))

    def _rejoin_later(self, replica: Host, reason: str) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(0)  # not from inside the loop that was refused: it ends first
        self._rejoining.discard(replica.name)
        if replica in self.members or not replica.is_up:
            return
        stale = [loop.daemon for loop in self.partition_loops if self.owners.get(loop.daemon) is not replica]
        stale += [daemon for daemon in self.leased if self.lease_holder is not replica]
        for daemon in stale:
            if daemon in replica.daemon_factories:
                replica.withdraw_daemon(daemon)
        self.world.record("broker.member_lost", replica.name, None, group=self.service, reason=reason,
                          generation=self.member_generation.get(replica.name), current=self.generation)
        self._join(replica, f"{replica.name} rejoined ({reason})")

    # --- fencing ---------------------------------------------------------------------------------

    def is_current(self, replica: Host) -> bool:
        """Whether ``replica`` is a member of the group's current generation."""
        return replica in self.members and self.member_generation.get(replica.name) == self.generation

    def commit(self, replica: Host, group: str, topic: str, partition: int, offset: int) -> bool:
        """The coordinator's side of an offset commit from ``replica``: applied as sent if it comes
        from the current generation (or, without fencing, from any); refused (False, recorded as
        ``consumer.commit_refused``) from a stale one, and the zombie then rejoins."""
        if not self.is_current(replica):
            if self.fencing:
                self.world.record("consumer.commit_refused", replica.name, group=group, topic=topic,
                                  partition=partition, offset=offset,
                                  generation=self.member_generation.get(replica.name), current=self.generation)
                self._rejoin(replica, "offset commit refused: stale generation")
                return False
            self.world.record("consumer.stale_commit", replica.name, group=group, topic=topic,
                              partition=partition, offset=offset,
                              generation=self.member_generation.get(replica.name), current=self.generation)
        self.broker.offsets[(group, topic, partition)] = offset
        return True

    def holds_lease(self, replica: Host, what: str) -> bool:
        """Whether a request of ``replica``'s leased loop ``what`` (a publish, a mark, a saga
        adoption) is accepted: its fencing token is the lease's current one, or fencing is off. A
        refusal is recorded as ``lease.fenced`` and the zombie rejoins."""
        token = self.held_tokens.get(replica.name)
        if token == self.lease_token and self.lease_holder is replica:
            return True
        if not self.fencing:
            self.world.record("lease.stale_token", replica.name, group=self.service, what=what, token=token,
                              current=self.lease_token)
            return True
        self.world.record("lease.fenced", replica.name, group=self.service, what=what, token=token,
                          current=self.lease_token)
        self._rejoin(replica, f"{what} refused: stale fencing token")
        return False

    def drives(self, driver: int | str) -> bool:
        """Whether ``driver`` (a saga driver id, ``reservation#2@1``) is a replica's incarnation that
        the coordinator knows as a member: a saga it drives is not orphaned."""
        name, _, incarnation = str(driver).rpartition("@")
        return any(m.name == name and str(self.sessions.get(name)) == incarnation for m in self.members)

    # --- rebalancing -----------------------------------------------------------------------------

    def assignment(self) -> dict[str, Host | None]:
        """Partition p of each topic to member ``p mod m`` (None when the group has no member)."""
        members = self.members
        return {
            loop.daemon: members[loop.partition % len(members)] if members else None
            for loop in self.partition_loops
        }

    def _revoke(self, host: Host, daemon: str) -> None:
        """Stop ``host``'s loop, unless ``host`` is running where the coordinator cannot reach it
        (a zombie: its loop carries on until it finds out)."""
        if host.is_up and not self._reaches_coordinator(host):
            return
        host.withdraw_daemon(daemon)

    def _rebalance(self, reason: str, stop_the_world: bool = True) -> None:
        """A new generation: members that are running but cannot reach the coordinator do not take
        part and leave the group (the join phase does not wait for them); crashed members keep their
        place until their session times out (static membership)."""
        self.generation += 1
        generation = self.generation
        self.members = [m for m in self.members if not m.is_up or self._reaches_coordinator(m)]
        for member in self.members:
            self.sessions[member.name] = member.incarnation
            self.member_generation[member.name] = generation
        pause = self.rebalance_time if stop_the_world else 0.0
        target = self.assignment()
        moved: list[list[Any]] = []
        for loop in self.partition_loops:
            old, new = self.owners.get(loop.daemon), target[loop.daemon]
            if old is not new:
                moved.append([loop.topic, loop.partition, _name(old), _name(new)])
            if old is not None and (old is not new or pause > 0):
                self._revoke(old, loop.daemon)
                self.owners[loop.daemon] = None
        previous = holder = self.lease_holder
        if holder not in self.members:
            holder = self.members[0] if self.members else None
        lease_moved = holder is not self.lease_holder
        if lease_moved:
            for daemon in self.leased:
                if self.lease_holder is not None:
                    self._revoke(self.lease_holder, daemon)
            self.lease_holder = holder
            self.lease_token += 1
            if holder is not None:
                self.held_tokens[holder.name] = self.lease_token
        self.world.record(
            REBALANCE, self.service, None, group=self.service, reason=reason, generation=generation,
            members=[m.name for m in self.members], moved=moved, lease=_name(holder),
            lease_from=_name(previous), lease_token=self.lease_token, stop_the_world=pause,
        )
        if lease_moved and holder is not None:
            for daemon, make in self.leased.items():
                holder.daemon(daemon, make(holder))
        if pause > 0:
            self.env.process(self._assign_after(pause, generation, target))
        else:
            self._assign(target)

    def _assign_after(
        self, pause: float, generation: int, target: dict[str, Host | None]
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(pause)
        if generation == self.generation:  # else a later rebalance hands out its own assignment
            self._assign(target)

    def _assign(self, target: dict[str, Host | None]) -> None:
        for loop in self.partition_loops:
            new = target[loop.daemon]
            if self.owners.get(loop.daemon) is None and new is not None:
                new.daemon(loop.daemon, loop.make(new))
                self.owners[loop.daemon] = new


def _name(host: Host | None) -> str | None:
    return None if host is None else host.name
