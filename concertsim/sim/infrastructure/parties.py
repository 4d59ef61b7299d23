"""How the network and the trace name the parties of a run: a service's replicas.

A service of one replica is one party named after the service (``point``); a service of n > 1
replicas (seed 8.2) is n parties ``point#1`` .. ``point#n``. Whatever names a party (a partition, a
message fault's filter, a metric per service) may name the service and mean every replica of it.
"""

from __future__ import annotations

__all__ = ["replica_names", "service_of"]


def replica_names(service: str, count: int) -> list[str]:
    """The host names of ``count`` replicas of ``service``: the service's own name for one."""
    return [service] if count == 1 else [f"{service}#{index}" for index in range(1, count + 1)]


def service_of(party: str) -> str:
    """The service a party of the trace belongs to: ``point`` for ``point#2`` (and for ``point``)."""
    return party.partition("#")[0]
