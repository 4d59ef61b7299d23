"""Wiring: builds the whole simulated system of a scenario in a :class:`World`.

Six hosts (the gateway and the five services of seed 2), each service with its own database, the
network between them, the broker, one outbox relay per service, one consumer per subscribed
(group, topic, partition), the scheduled jobs, and the initial data (concert dates and seats,
point accounts). A service with several replicas (seed 8.2) has a host per replica sharing its
database, a load balancer in front of them (:mod:`concertsim.sim.hosting.replicas`), and a
:class:`~concertsim.sim.messaging.membership.ServiceGroup` that spreads its partitions over the replicas and
runs its relay and jobs on one of them. At an earlier stage of the migration (``design.topology``)
services of one process share its database, worker pool and relay, and handle each other's events
in the raising transaction instead of subscribing at the broker (:mod:`concertsim.sim.hosting.topology`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

from concertsim.models import concert, points, reservations
from concertsim.scenarios.migration_plan import MigrationPlan
from concertsim.scenarios.schema import SERVICE_NAMES
from concertsim.sim.hosting.gateway import install_routes
from concertsim.sim.hosting.host import EventWork, Host
from concertsim.sim.hosting.replicas import Balancer
from concertsim.sim.hosting.topology import Topology
from concertsim.sim.infrastructure.network import Network
from concertsim.sim.infrastructure.parties import replica_names
from concertsim.sim.infrastructure.random_streams import sampler
from concertsim.sim.infrastructure.storage import Database
from concertsim.sim.infrastructure.world import World
from concertsim.sim.messaging.consumer import ConsumerPolicy, consume_partition, consume_retries, consumer_name
from concertsim.sim.messaging.dual_write import DualWrite
from concertsim.sim.messaging.event_broker import EventBroker
from concertsim.sim.messaging.kafka import Broker
from concertsim.sim.messaging.membership import ServiceGroup
from concertsim.sim.messaging.rabbitmq import QueueBroker
from concertsim.sim.messaging.rabbitmq_consumer import build_queue_broker, start_queue_consumers
from concertsim.sim.messaging.relay import OutboxClaims, relay_name, relay_outbox
from concertsim.sim.run.concert_migration import ConcertMigration
from concertsim.sim.run.point_migration import PointMigration
from concertsim.sim.run.point_shift import PointShift
from concertsim.sim.run.queue_migration import QueueMigration
from concertsim.sim.run.reservation_migration import ReservationMigration
from concertsim.sim.run.store_move import StoreMove
from concertsim.sim.services import concert as concert_service
from concertsim.sim.services import data_platform as data_platform_service
from concertsim.sim.services import point as point_service
from concertsim.sim.services import queue as queue_service
from concertsim.sim.services import reservation as reservation_service

__all__ = ["System", "build_system", "SERVICE_MODULES", "topic_name", "topics_by_event_type"]

SERVICE_MODULES: dict[str, ModuleType] = {
    "reservation": reservation_service,
    "point": point_service,
    "queue": queue_service,
    "concert": concert_service,
    "data_platform": data_platform_service,
}


@dataclass
class System:
    world: World
    network: Network
    broker: EventBroker
    hosts: dict[str, Host]
    """every host by name: a replica's name (``point#2``) when its service has several"""
    handlers: dict[tuple[str, str], EventWork]
    """(group, event type) -> the work of that subscription; groups are named after their
    service."""
    policy: ConsumerPolicy
    replicas: dict[str, list[Host]] = field(default_factory=dict)
    """service -> its hosts, in replica order (one for a service without replicas)"""
    groups: dict[str, ServiceGroup] = field(default_factory=dict)
    """service -> its consumer group's coordinator, for services with several replicas"""
    topology: Topology | None = None
    point_shift: PointShift | None = None
    """The gradual traffic shift to the split-out Point (``design.point_shift``), if any."""
    moves: list[StoreMove] = field(default_factory=list)
    """Every migration's move of the run, in the order of its chain (``scenario.migration``)."""
    reservation_migration: ReservationMigration | None = None
    """Reservation's move among ``moves``, if any: the runner asks it which store holds the open holds."""

    @property
    def services(self) -> list[Host]:
        """One host per service with a database (its first replica): the service's state."""
        return [hosts[0] for hosts in self.replicas.values() if hosts[0].db is not None]

    @property
    def databases(self) -> list[Database]:
        """Each database once (replicas of a service and services of one process share theirs)."""
        return list({id(h.db): h.db for h in self.services if h.db is not None}.values())

    def subscriptions(self) -> dict[str, list[str]]:
        """event type -> the groups that handle it, through the broker or in the raising
        transaction."""
        found = {kind: list(groups) for kind, groups in self.broker.interests.items()}
        if self.topology is not None:
            for kind, groups in self.topology.inline_subscriptions().items():
                known = found.setdefault(kind, [])
                known.extend(group for group in groups if group not in known)
        return found

    def in_process(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """event type -> {group: the hosts of its process} for each group that handles the type in
        the raising transaction: it handles what its process raises, whether or not it also
        subscribes at the broker."""
        if self.topology is None:
            return {}
        return {kind: {group: self.topology.mates(group) for group in groups}
                for kind, groups in self.topology.inline_subscriptions().items()}

    def process_of(self, service: str) -> list[Host]:
        """The hosts of ``service``'s process, ``service``'s own first: a fault aimed at one
        strikes them all."""
        mates = self.topology.mates(service) if self.topology is not None else (service,)
        return [self.hosts[service], *(self.hosts[m] for m in mates if m != service)]

    def host_of(self, service: str) -> Host:
        """The service's lowest-numbered replica that is up (its first if none is)."""
        hosts = self.replicas[service]
        return next((h for h in hosts if h.is_up), hosts[0])


def build_system(world: World) -> System:
    scenario = world.scenario
    design = scenario.design
    env = world.env
    network = Network(
        world,
        sampler(scenario.network.latency, world.rng("network/latency")),
        sampler(scenario.broker.latency, world.rng("broker/latency")),
    )
    policy = ConsumerPolicy(
        dedup=design.consumer_dedup,
        retries=design.retries,
        dead_letter=design.dead_letter,
        retry_backoff=scenario.broker.retry_backoff,
        fetch_timeout=scenario.broker.fetch_timeout,
        retry_topic=scenario.broker.retry_topic,
    )
    broker: EventBroker
    if scenario.broker.kind == "rabbitmq":
        broker = build_queue_broker(world, network, topics_by_event_type(), policy)
    else:
        broker = Broker(
            world, network, scenario.broker.partitions, design.partitioning,
            publish_timeout=scenario.network.call_timeout, topic_of=topics_by_event_type(),
            dedup_window=scenario.broker.dedup_window, append_time=scenario.broker.partition_append_time,
        )
    topology = Topology(world, design.topology, publishers_by_event_type())

    def new_database(name: str, services: int) -> Database:
        commit_latency = sampler(scenario.storage.commit_latency, world.rng(f"storage/{name}"))
        connections = scenario.storage.connections
        return Database(name, env, commit_latency, None if connections is None else connections * services)

    hosts: dict[str, Host] = {}
    replicas: dict[str, list[Host]] = {}
    balancers: dict[str, Balancer[Host]] = {}
    for name in SERVICE_NAMES:
        database = topology.database(name, new_database) if name != "gateway" else None
        spec = getattr(scenario.services, name)
        replicas[name] = []
        for host_name in replica_names(name, spec.replicas):
            host = Host(world, host_name, spec, database, design.publish, service=name)
            host.publisher = DualWrite(broker, host)
            host.network, host.peers, host.balancers = network, hosts, balancers
            topology.place(host, lambda service: getattr(scenario.services, service).workers)
            hosts[host_name] = host
            replicas[name].append(host)
        if spec.replicas > 1:
            balancers[name] = Balancer(replicas[name], scenario.network.load_balancing, scenario.network.ejection_time)
    _load_initial_data(world, {name: group[0] for name, group in replicas.items()})

    install_routes(hosts["gateway"])
    handlers: dict[tuple[str, str], EventWork] = {}
    groups: dict[str, ServiceGroup] = {}
    for name, module in SERVICE_MODULES.items():
        if len(replicas[name]) > 1:
            groups[name] = _replicated_service(world, broker, network, policy, module, replicas[name], handlers)
            continue
        host = hosts[name]
        host.endpoints.update(module.ENDPOINTS)
        if design.publish == "outbox" and topology.runs_relay(name):
            host.daemon(
                relay_name(name),
                partial(relay_outbox, host, broker, scenario.broker.relay_batch,
                        scenario.broker.relay_poll_interval, scenario.broker.relay_publish),
            )
        by_topic: dict[str, dict[str, EventWork]] = {}
        for event_type, work in module.subscriptions(host).items():
            handlers[(name, event_type)] = work
            if topology.handles_inline(name, event_type):
                assert host.colocation is not None
                host.colocation.handle_inline(name, event_type, work)
                continue
            by_topic.setdefault(broker.subscribe(name, event_type), {})[event_type] = work
        if isinstance(broker, QueueBroker):
            for queue_handlers in by_topic.values():
                start_queue_consumers(host, broker, network, name, queue_handlers, policy, scenario.broker)
            by_topic = {}  # no partitions to read, no retry topic: the queue redelivers and delays
        for topic, topic_handlers in by_topic.items():
            for partition in range(scenario.broker.partitions):
                host.daemon(
                    consumer_name(name, topic, partition),
                    partial(consume_partition, host, broker, network, name, topic, partition,
                            topic_handlers, policy),
                )
        if policy.retry_topic and by_topic:
            group_handlers = {t: w for topic_handlers in by_topic.values() for t, w in topic_handlers.items()}
            host.daemon(f"retry:{name}", partial(consume_retries, host, broker, name, group_handlers, policy))
        for job_name, job in module.jobs(host).items():
            host.daemon(f"job:{job_name}", job)
    topology.finish(hosts, lambda event_type: broker.interests.get(event_type, ()))
    system = System(world, network, broker, hosts, handlers, policy, replicas, groups, topology)
    if design.point_shift:
        system.point_shift = PointShift.install(system)
    if world.scenario.migration is not None:
        _install_moves(system, world.scenario.migration.chain())
    return system


def _install_moves(system: System, plans: tuple[MigrationPlan, ...]) -> None:
    """Wire each plan's move in the chain's order, each after the one before it."""
    for plan in plans:
        move = _MOVES[plan.service].install(system, plan)
        if isinstance(move, ReservationMigration):
            system.reservation_migration = move
        move.after = system.moves[-1] if system.moves else None
        system.moves.append(move)


_MOVES: dict[str, type[PointMigration | QueueMigration | ConcertMigration | ReservationMigration]] = {
    "point": PointMigration, "queue": QueueMigration, "concert": ConcertMigration, "reservation": ReservationMigration,
}
"""The runtime of each service's move."""


def _replicated_service(
    world: World, broker: Broker, network: Network, policy: ConsumerPolicy, module: ModuleType,
    replicas: list[Host], handlers: dict[tuple[str, str], EventWork],
) -> ServiceGroup:
    """Wire a service of several replicas: endpoints on each, its partitions and its relay and
    jobs through its :class:`ServiceGroup` (or, without ``design.single_relay``, a relay on every
    replica competing for the outbox's rows)."""
    scenario = world.scenario
    name = replicas[0].service
    group = ServiceGroup(world, name, replicas, scenario.broker.session_timeout, scenario.broker.rebalance_time,
                         broker, network, scenario.design.fencing)
    for host in replicas:
        host.endpoints.update(module.ENDPOINTS)
    if scenario.design.publish == "outbox":
        def relay(host: Host, claims: OutboxClaims | None = None) -> partial[Any]:
            return partial(relay_outbox, host, broker, scenario.broker.relay_batch,
                           scenario.broker.relay_poll_interval, scenario.broker.relay_publish, claims)

        if scenario.design.single_relay:
            group.lease(relay_name(name), relay)
        else:
            claims = OutboxClaims()
            for host in replicas:
                host.daemon(relay_name(name), relay(host, claims))
    # Each replica's handlers are its own (they may keep per-host state, like Concert's seat cache).
    subscriptions = {host.name: module.subscriptions(host) for host in replicas}
    topics: dict[str, list[str]] = {}
    for event_type, work in subscriptions[replicas[0].name].items():
        topics.setdefault(broker.subscribe(name, event_type), []).append(event_type)
        handlers[(name, event_type)] = work

    def handlers_on(host: Host, event_types: list[str]) -> dict[str, EventWork]:
        return {t: subscriptions[host.name][t] for t in event_types}

    if isinstance(broker, QueueBroker):
        # Every replica consumes the group's queue with consumers of its own; the broker, not a
        # group coordinator, spreads the messages, and a crashed replica's channels are requeued.
        for replica, host in enumerate(replicas):
            for event_types in topics.values():
                start_queue_consumers(host, broker, network, name, handlers_on(host, event_types), policy,
                                      scenario.broker, replica)
        topics = {}
    for topic, event_types in topics.items():
        for partition in range(scenario.broker.partitions):
            group.consume(
                consumer_name(name, topic, partition), topic, partition,
                lambda host, topic=topic, partition=partition, event_types=event_types: partial(
                    consume_partition, host, broker, network, name, topic, partition,
                    handlers_on(host, event_types), policy),
            )
    if policy.retry_topic and topics:
        every_type = [t for event_types in topics.values() for t in event_types]
        group.lease(f"retry:{name}", lambda host: partial(
            consume_retries, host, broker, name, handlers_on(host, every_type), policy))
    jobs = {host.name: module.jobs(host) for host in replicas}
    for job_name in jobs[replicas[0].name]:
        group.lease(f"job:{job_name}", lambda host, job_name=job_name: jobs[host.name][job_name])
    group.start()
    return group


def topic_name(service: str) -> str:
    return f"{service}-events"


def topics_by_event_type() -> dict[str, str]:
    """Each event type goes to its publisher's topic."""
    return {
        event_type: topic_name(service)
        for service, module in SERVICE_MODULES.items()
        for event_type in module.PUBLISHES
    }


def _load_initial_data(world: World, hosts: dict[str, Host]) -> None:
    """Dates and seats on both sides, and a point account per user, committed before time 0."""
    scenario = world.scenario
    on_sale = scenario.concerts
    booking, read_side, wallet = (hosts[n].db.begin() for n in ("reservation", "concert", "point"))
    for date_id in range(1, on_sale.dates + 1):
        reservations.add_seats(booking, date_id=date_id, seats=on_sale.seats_per_date, price=on_sale.price,
                               opens_at=on_sale.opening_of(date_id))
        concert.add_date(
            read_side, date_id=date_id, opens_at=on_sale.opening_of(date_id), seats=on_sale.seats_per_date,
            price=on_sale.price,
        )
    storage = point_service.account_storage(hosts["point"])
    for user_id in range(1, scenario.workload.users + 1):
        points.open_account(wallet, user_id, 0.0, initial_balance=scenario.workload.initial_points, storage=storage)
    for tx in (booking, read_side, wallet):
        tx.db.load(tx)


def publishers_by_event_type() -> dict[str, str]:
    """Each event type's publishing service."""
    return {event_type: service for service, module in SERVICE_MODULES.items() for event_type in module.PUBLISHES}
