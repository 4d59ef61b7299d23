"""The simulated infrastructure of a scenario: each service's capacity and replicas, the network,
the broker, the databases and Concert's seat cache (:class:`concertsim.scenarios.schema.Scenario`
holds one of each; import them from there)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from concertsim.scenarios.fields import (
    MAX_REPLICAS,
    Constant,
    Distribution,
    FrozenModel,
    LogNormal,
    NonNegativeSeconds,
    PlainLine,
    PositiveSeconds,
)

__all__ = ["ServiceSpec", "Services", "Network", "BrokerSpec", "SeatCacheSpec", "StorageSpec"]

_Frozen = FrozenModel


class ServiceSpec(_Frozen):
    """One service host: a bounded worker pool and the time each request or event takes."""

    workers: Annotated[int, Field(ge=1, le=10_000)] = 8
    service_time: Distribution = LogNormal(median=0.004, sigma=0.4)
    endpoint_times: dict[PlainLine, Distribution] = Field(
        default_factory=dict,
        description="per-endpoint service time overriding service_time, by endpoint name",
    )
    restart_time: PositiveSeconds = 5.0
    replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = Field(
        1, description="stateless instances of the service behind the load balancer, sharing its one "
        "database; each has its own workers and crashes on its own (named service#1, service#2, ...)",
    )


class Services(_Frozen):
    gateway: ServiceSpec = ServiceSpec(workers=64, service_time=Constant(value=0.0005))
    reservation: ServiceSpec = ServiceSpec()
    point: ServiceSpec = ServiceSpec()
    queue: ServiceSpec = ServiceSpec(service_time=LogNormal(median=0.001, sigma=0.3))
    concert: ServiceSpec = ServiceSpec(service_time=LogNormal(median=0.002, sigma=0.3))
    data_platform: ServiceSpec = ServiceSpec(workers=2)

    @model_validator(mode="after")
    def _one_gateway(self) -> Services:
        if self.gateway.replicas != 1:
            raise ValueError("gateway.replicas must be 1: the gateway runs as one instance")
        return self


class Network(_Frozen):
    """Synchronous calls between parties."""

    latency: Distribution = LogNormal(median=0.002, sigma=0.5)
    call_timeout: PositiveSeconds = Field(0.5, description="service-to-service call timeout")
    call_retries: Annotated[int, Field(ge=0, le=10)] = 1
    retry_backoff: PositiveSeconds = 0.1
    gateway_timeout: PositiveSeconds = Field(3.0, description="the gateway's wait for a service")
    load_balancing: Literal["round_robin", "least_outstanding"] = Field(
        "round_robin",
        description="how a call picks one of a service's replicas: in turn, or the one with the fewest "
        "calls awaiting a reply; a replica that let a call time out is skipped for ejection_time",
    )
    ejection_time: PositiveSeconds = Field(
        5.0, description="seconds the load balancer skips a replica after a call to it timed out",
    )


class BrokerSpec(_Frozen):
    """The event broker: Kafka-like (partitions per topic) or RabbitMQ-like (a queue per consumer
    group), its delivery latency and the consumers' retry backoff."""

    partitions: Annotated[int, Field(ge=1, le=256)] = 4
    latency: Distribution = LogNormal(median=0.003, sigma=0.5)
    fetch_timeout: PositiveSeconds = 1.0
    retry_backoff: PositiveSeconds = 0.5
    relay_poll_interval: PositiveSeconds = 0.5
    relay_batch: Annotated[int, Field(ge=1, le=10_000)] = 50
    partition_append_time: PositiveSeconds | None = Field(
        None,
        description="seconds each append holds its partition's log writer, so a partition takes at "
        "most 1/partition_append_time events a second and appends queue behind each other (null: no limit)",
    )
    retry_topic: bool = Field(
        False,
        description="retry a failed handling from the group's retry topic, letting the partition go on "
        "(no head-of-line blocking, but a later event of the same key may overtake it); false: retry in place",
    )
    dedup_window: PositiveSeconds | None = Field(
        None,
        description="seconds during which the broker drops a duplicated publish: kafka, a retry within one "
        "producer session (Kafka's idempotent producer: producer id and sequence number; a restarted relay "
        "is a new session and its republished events are appended again); rabbitmq, any publish of the same "
        "event id to the exchange (the message-deduplication plugin's exchange); null: every copy is appended",
    )
    relay_publish: Literal["each", "batch"] = Field(
        "each",
        description="how the outbox relay publishes: 'each' awaits an acknowledgement per event "
        "(one event per round trip), 'batch' sends up to relay_batch events per produce request",
    )
    restart_time: PositiveSeconds = 5.0
    kind: Literal["kafka", "rabbitmq"] = Field(
        "kafka",
        description="kafka: topics split into partitions read in order by one consumer each; rabbitmq: an "
        "exchange per publisher and a queue per consumer group with competing consumers, acks and redelivery "
        "(sim/messaging/rabbitmq.py)",
    )
    consumers_per_queue: Annotated[int, Field(ge=1, le=256)] | None = Field(
        None, description="rabbitmq: competing consumers on each group's queue (null: as many as partitions)"
    )
    prefetch: Annotated[int, Field(ge=1, le=10_000)] = Field(
        10, description="rabbitmq: unacknowledged deliveries a consumer may hold at once"
    )
    single_active_consumer: bool = Field(
        False,
        description="rabbitmq: only one consumer of a queue receives at a time (order kept, no parallelism); "
        "the others stand by",
    )
    retry_in_place: bool = Field(
        False,
        description="rabbitmq: a consumer retries a failed handling itself, holding the message unacknowledged "
        "(head-of-line blocking, as the kafka default); false: it nacks it into the queue's delay queue",
    )

    session_timeout: PositiveSeconds = Field(
        45.0, description="the consumer-group session timeout (Kafka's session.timeout.ms, 45 s since 3.0): "
        "seconds after a replica's last heartbeat before it is evicted from its service's group and its "
        "partitions and leases (relay, jobs, saga recovery) move to the members left; heartbeats stop when "
        "a replica crashes, is paused or is cut off from the broker, not when it is merely slow",
    )
    rebalance_time: NonNegativeSeconds = Field(
        2.0, description="how long a rebalance stops the world: every member of the group stops consuming "
        "when it begins and the new assignment starts this many seconds later (eager rebalancing)",
    )

    @model_validator(mode="before")
    @classmethod
    def _rebalance_delay_renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rebalance_delay" in data:
            raise ValueError("rebalance_delay is now session_timeout (seconds after a replica's last heartbeat "
                             "before it leaves its consumer group); rename the field")
        return data

    @model_validator(mode="after")
    def _kafka_settings_only_with_kafka(self) -> BrokerSpec:
        if self.kind == "rabbitmq" and self.partition_append_time is not None:
            raise ValueError("partition_append_time applies to the kafka broker only (a rabbitmq broker has no "
                             "partition log writers): leave it null with kind rabbitmq")
        if self.kind == "rabbitmq" and self.retry_topic:
            raise ValueError("retry_topic applies to the kafka broker only: with kind rabbitmq a failed handling "
                             "is nacked into the queue's delay queue (or retried in place with retry_in_place)")
        return self


class SeatCacheSpec(_Frozen):
    """Concert's cache of each date's free seats, in front of its seat view (seed 3.2)."""

    mode: Literal["none", "invalidated", "versioned", "ttl"] = Field(
        "none",
        description="none: every seat listing reads the view; invalidated: a listing is cached "
        "until a committed seat change of its date drops it (event-driven invalidation, so a listing "
        "read before a change and stored after its invalidation stays until ttl); versioned: a "
        "listing is served only while the view's version row of its date is unchanged (a version "
        "read on every listing); ttl: cached for ttl seconds, whatever happens meanwhile",
    )
    ttl: PositiveSeconds = Field(5.0, description="how long a cached listing is served in ttl and invalidated modes")
    fill_seconds: Annotated[float, Field(ge=0, le=10.0, allow_inf_nan=False)] = Field(
        0.002, description="in invalidated mode: the time from reading a listing from the view to storing "
        "it in the cache (the read's round trip), the window of the stale-set race",
    )


class StorageSpec(_Frozen):
    """Each service's database: commit latency, optimistic-conflict retries, connection pool; and,
    for Point with event sourcing, its snapshots and the cost of replaying events."""

    commit_latency: Distribution = LogNormal(median=0.002, sigma=0.3)
    conflict_retries: Annotated[int, Field(ge=0, le=100)] = 5
    point_snapshot_every: Annotated[int | None, Field(ge=1, le=1_000_000)] = Field(
        50, description="with design.point_storage=events: a balance snapshot every this many entries of a "
        "user's stream (null: never, every balance is replayed from the first entry)",
    )
    replay_seconds_per_event: Annotated[float, Field(ge=0, le=1.0, allow_inf_nan=False)] = Field(
        0.00002, description="with design.point_storage=events: the service time of replaying one event to "
        "derive a balance",
    )
    connections: Annotated[int | None, Field(ge=1, le=10_000)] = Field(
        10,
        description="connections per database: a commit holds one for its latency and waits when "
        "all are taken (null: unlimited); 10, a common pool size, binds in none of the built-in scenarios",
    )
