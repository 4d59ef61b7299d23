"""Wiring: builds the whole simulated system of a scenario in a :class:`World`.

Six hosts (the gateway and the five services of seed 2), each service with its own database, the
network between them, the broker, one outbox relay per service, one consumer per subscribed
(group, topic, partition), the scheduled jobs, and the initial data (concert dates and seats,
point accounts). At an earlier stage of the migration (``design.topology``) services of one
process share its database, worker pool and relay, and handle each other's events in the raising
transaction instead of subscribing at the broker (:mod:`concertsim.sim.topology`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import ModuleType

from concertsim.models import concert, points, reservations
from concertsim.scenarios.schema import SERVICE_NAMES
from concertsim.sim.broker import Broker
from concertsim.sim.consumer import ConsumerPolicy, EventWork, consume_partition, consume_retries, consumer_name
from concertsim.sim.gateway import install_routes
from concertsim.sim.host import Host
from concertsim.sim.network import Network
from concertsim.sim.random_streams import sampler
from concertsim.sim.relay import relay_name, relay_outbox
from concertsim.sim.services import concert as concert_service
from concertsim.sim.services import data_platform as data_platform_service
from concertsim.sim.services import point as point_service
from concertsim.sim.services import queue as queue_service
from concertsim.sim.services import reservation as reservation_service
from concertsim.sim.storage import Database
from concertsim.sim.topology import Topology
from concertsim.sim.world import World

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
    broker: Broker
    hosts: dict[str, Host]
    handlers: dict[tuple[str, str], EventWork]
    """(group, event type) -> the work of that subscription; groups are named after their
    service."""
    policy: ConsumerPolicy
    topology: Topology | None = None

    @property
    def services(self) -> list[Host]:
        return [h for h in self.hosts.values() if h.db is not None]

    @property
    def databases(self) -> list[Database]:
        """Each database once (services of one process share theirs)."""
        return list({id(h.db): h.db for h in self.services if h.db is not None}.values())

    def subscriptions(self) -> dict[str, list[str]]:
        """event type -> the groups that handle it, through the broker or in the raising
        transaction."""
        found = {kind: list(groups) for kind, groups in self.broker.interests.items()}
        if self.topology is not None:
            for kind, groups in self.topology.inline_subscriptions().items():
                found.setdefault(kind, []).extend(groups)
        return found

    def process_of(self, service: str) -> list[Host]:
        """The hosts of ``service``'s process, ``service``'s own first: a fault aimed at one
        strikes them all."""
        mates = self.topology.mates(service) if self.topology is not None else (service,)
        return [self.hosts[service], *(self.hosts[m] for m in mates if m != service)]


def build_system(world: World) -> System:
    scenario = world.scenario
    design = scenario.design
    env = world.env
    network = Network(
        world,
        sampler(scenario.network.latency, world.rng("network/latency")),
        sampler(scenario.broker.latency, world.rng("broker/latency")),
    )
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
    for name in SERVICE_NAMES:
        database = topology.database(name, new_database) if name != "gateway" else None
        host = Host(world, name, getattr(scenario.services, name), database, design.publish)
        host.broker, host.network, host.peers = broker, network, hosts
        topology.place(host, lambda service: getattr(scenario.services, service).workers)
        hosts[name] = host
    _load_initial_data(world, hosts)

    install_routes(hosts["gateway"])
    policy = ConsumerPolicy(
        dedup=design.consumer_dedup,
        retries=design.retries,
        dead_letter=design.dead_letter,
        retry_backoff=scenario.broker.retry_backoff,
        fetch_timeout=scenario.broker.fetch_timeout,
        retry_topic=scenario.broker.retry_topic,
    )
    handlers: dict[tuple[str, str], EventWork] = {}
    for name, module in SERVICE_MODULES.items():
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
    topology.finish(hosts, lambda event_type: bool(broker.interests.get(event_type)))
    return System(world, network, broker, hosts, handlers, policy, topology)


def topic_name(service: str) -> str:
    return f"{service}-events"


def topics_by_event_type() -> dict[str, str]:
    """Each event type goes to its publisher's topic."""
    return {
        event_type: topic_name(service)
        for service, module in SERVICE_MODULES.items()
        for event_type in module.PUBLISHES
    }


def publishers_by_event_type() -> dict[str, str]:
    """Each event type's publishing service."""
    return {event_type: service for service, module in SERVICE_MODULES.items() for event_type in module.PUBLISHES}


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
