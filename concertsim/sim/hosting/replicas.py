"""Replicas of a service and the load balancer in front of them (seed 8.2).

A service with ``services.<name>.replicas`` = n > 1 runs as n stateless hosts, ``<name>#1`` ..
``<name>#n`` (:mod:`concertsim.sim.infrastructure.parties`), that share the service's one database; with one
replica the host keeps the service's own name, so a run without replicas is the run it always was.

Every call to a service, from the gateway or from another service, goes through one balancer per
service (the gateway's load balancer, or a service mesh, shared by all callers), which picks a
replica by ``network.load_balancing``:

- ``round_robin``: the replicas in turn;
- ``least_outstanding``: the replica with the fewest calls sent and not yet answered or timed out,
  among equals the next in turn (so an idle service is still spread round robin).

The balancer does not know which replicas are up. A call to a crashed replica times out as a call
to a crashed service does; the balancer then skips that replica for ``network.ejection_time``
seconds (passive outlier ejection), so the caller's retry goes to another one. If every replica is
ejected, it picks among all of them as if none were. No random draws: the choice is a function of
the calls made so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

__all__ = ["Balancer"]

Replica = TypeVar("Replica")


class Balancer(Generic[Replica]):
    """Picks the replica of one service that a call goes to (see the module's docstring); the
    replicas are the service's hosts (:class:`~concertsim.sim.hosting.host.Host`).

    ``pick()`` returns the replica and counts the call as outstanding; the caller must report the
    call's end with ``done(replica, timed_out)``.
    """

    __slots__ = ("replicas", "policy", "ejection_time", "outstanding", "ejected_until", "_turn", "served")

    def __init__(self, replicas: Sequence[Replica], policy: str, ejection_time: float) -> None:
        self.replicas = list(replicas)
        self.policy = policy
        self.ejection_time = ejection_time
        self.outstanding = [0] * len(self.replicas)
        self.ejected_until = [0.0] * len(self.replicas)
        self._turn = 0
        self.served = [0] * len(self.replicas)
        """calls sent to each replica"""

    def pick(self, now: float) -> Replica:
        count = len(self.replicas)
        healthy = [i for i in range(count) if self.ejected_until[i] <= now] or list(range(count))
        if self.policy == "least_outstanding":
            fewest = min(self.outstanding[i] for i in healthy)
            healthy = [i for i in healthy if self.outstanding[i] == fewest]
        index = next(i % count for i in range(self._turn, self._turn + count) if i % count in healthy)
        self._turn = index + 1
        self.outstanding[index] += 1
        self.served[index] += 1
        return self.replicas[index]

    def done(self, replica: Replica, timed_out: bool, now: float) -> None:
        index = self.replicas.index(replica)
        self.outstanding[index] -= 1
        if timed_out:
            self.ejected_until[index] = now + self.ejection_time
