"""The runtime: SimPy processes that host the domain (ARCHITECTURE.md, "sim/").

One folder per concern, in layers; a subpackage imports only the ones below it, at run time and
in type annotations alike (``tests/test_import_layers.py`` holds the order):

1. :mod:`~concertsim.sim.infrastructure`: the simulated world and what every party stands on:
   the clock and named random streams, the trace, databases, worker pools, the network.
2. :mod:`~concertsim.sim.hosting`: service hosts and how calls reach them: the host's lifecycle,
   calls and local transactions, replicas and their load balancer, the API gateway, processes
   shared by several services (the migration's stages) and the traffic shift's routing.
3. :mod:`~concertsim.sim.messaging` and :mod:`~concertsim.sim.services`, side by side and
   neither importing the other: the brokers (Kafka-like, RabbitMQ-like) with their producers,
   consumers, outbox relay and consumer groups; and the five services of the design, as
   endpoints, event handlers and jobs. A service raises events through its host's transactions
   and a consumer is handed a service's handling as a value, so neither needs the other.
4. :mod:`~concertsim.sim.run`: one run of a scenario: the system's wiring, the workload, the
   faults, the runner and the records it leaves (:class:`~concertsim.sim.run.result.RunResult`).
"""
