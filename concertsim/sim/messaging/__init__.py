"""Messaging: the brokers and their clients (seeds 4.2.3, 6.2, 8).

- ``event_broker``: what publishers, consumers and the runner ask of a broker, whichever it is
  (:class:`~concertsim.sim.messaging.event_broker.EventBroker`), the produce request, producer
  sessions, de-duplication and dead-letter topics;
- ``kafka``: the Kafka-like broker (topics, partitions, offsets, retry topics);
- ``rabbitmq``: the RabbitMQ-like broker (exchanges, queues, channels, acks and nacks);
- ``consumer``: handling an event once with the inbox, retries, dead letters and their re-drive,
  and the partition consumer of a Kafka group; ``rabbitmq_consumer``: competing consumers of a
  queue;
- ``relay``: the transactional-outbox relay; ``dual_write``: publishing after the commit with no
  outbox;
- ``membership``: a replicated service's consumer group, its leases and fencing.

May import: ``sim.hosting`` and ``sim.infrastructure``; never ``sim.services`` (a consumer is
handed a service's handling as an :data:`~concertsim.sim.hosting.host.EventWork` value) nor
``sim.run``.
"""
