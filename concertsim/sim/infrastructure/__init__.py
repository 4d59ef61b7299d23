"""The simulated infrastructure: what every party of a run stands on (the bottom of ``sim``).

The :class:`~concertsim.sim.infrastructure.world.World` (the SimPy environment, the scenario,
named random streams, ids and the trace), the trace itself kept in memory or spilled to disk
(with its files' format and their serialization in another process, ``spill_files``),
databases with local transactions, an outbox and an inbox (``storage``), bounded worker pools,
the network that carries calls and the broker's traffic with latency, timeouts, partitions and
message faults, the process that serves one request without events of its own (``tasks``),
how parties are named (``parties``: a service's replicas), and when the cyclic garbage collector
runs during a large run and its reading (``collection``).

May import: ``concertsim.models`` and ``concertsim.scenarios``, nothing else of ``sim``. What
it asks of a party above it (the host a request is delivered to, the fault injector that decides
a message's fate) it states as a small protocol of its own (``network.Callee``,
``network.MessageFaults``).
"""
