"""Service hosts and how calls reach them.

A :class:`~concertsim.sim.hosting.host.Host` runs one service (or one replica of it): a worker
pool, a database, a lifecycle of crashes, pauses and restarts, synchronous calls with retries, and
local transactions that raise events (to the outbox, or published straight after the commit).
Beside it: the replicas of a service and the load balancer in front of them (``replicas``), the
API gateway (``gateway``), several services sharing one process at a stage of the migration
(``shared_process``, ``topology``), and which Point serves a user during the traffic shift
(``shift_routing``).

May import: ``sim.infrastructure`` (and ``concertsim.models``, ``concertsim.scenarios``). A host
knows the broker and its consumer group only as the protocols it declares
(:class:`~concertsim.sim.hosting.host.Publisher`, :class:`~concertsim.sim.hosting.host.Membership`),
which ``sim.messaging`` implements and ``sim.run`` hands to it.
"""
