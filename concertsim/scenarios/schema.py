"""The Scenario: everything a run needs, as immutable, validated data.

Its building blocks (field types, distributions) are in :mod:`concertsim.scenarios.fields`, the
simulated infrastructure (services, network, broker, storage, cache) in
:mod:`concertsim.scenarios.infrastructure` and fault schedules in
:mod:`concertsim.scenarios.fault_specs`; this module re-exports them, so
``concertsim.scenarios.schema`` stays the one place to import a scenario's parts from.

A scenario is the *description* layer (STYLE.md): the runtime reads it and never changes it. Every
model forbids unknown keys and validates its values, so a typo in a YAML file is an error naming the
field, not a silently ignored setting. Times are seconds of simulated time unless a name says
otherwise.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from concertsim.models.schemas import SchemaRollout, plan_rollout

from concertsim.scenarios.fault_specs import (
    FAULT_PARAMS,
    MESSAGE_FAULTS,
    PARAM_RANGES,
    FaultKind,
    FaultSpec,
    MessageFilter,
    target_problem,
)
from concertsim.scenarios.fields import (
    CHANNELS,
    DOMAIN_SERVICES,
    PARTIES,
    SERVICE_NAMES,
    Constant,
    Distribution,
    Exponential,
    FrozenModel,
    LogNormal,
    NonNegativeSeconds,
    PlainLine,
    PlainText,
    PositiveSeconds,
    Probability,
    Uniform,
    replica_of,
    text_problem,
)
from concertsim.scenarios.migration_plan import STAGE_BEFORE, MigrationPlan, MigrationStep
from concertsim.scenarios.infrastructure import (
    BrokerSpec,
    Network,
    SeatCacheSpec,
    Services,
    ServiceSpec,
    StorageSpec,
)

_Frozen = FrozenModel

__all__ = [
    "Scenario",
    "Design",
    "Distribution",
    "Constant",
    "Exponential",
    "LogNormal",
    "Uniform",
    "ServiceSpec",
    "Services",
    "Network",
    "BrokerSpec",
    "StorageSpec",
    "Concerts",
    "Rules",
    "Workload",
    "Settle",
    "Expectation",
    "FaultSpec",
    "MessageFilter",
    "SeatCacheSpec",
    "SchemaUpgrade",
    "MigrationPlan",
    "MigrationStep",
    "FaultKind",
    "MESSAGE_FAULTS",
    "FAULT_PARAMS",
    "PARAM_RANGES",
    "target_problem",
    "SERVICE_NAMES",
    "DOMAIN_SERVICES",
    "PARTIES",
    "CHANNELS",
    "INVARIANT_IDS",
    "text_problem",
]

INVARIANT_IDS = (
    "no-double-booking",
    "no-duplicate-holds",
    "points-never-negative",
    "points-ledger-balanced",
    "no-double-refund",
    "point-replay-consistent",
    "charge-exactly-once",
    "queue-capacity",
    "calls-wait-their-timeout",
    "no-orphaned-deduction",
    "seats-released-on-expiry",
    "seat-view-converges",
    "seat-view-timely",
    "seat-cache-bounded",
    "ranking-converges",
    "data-platform-exactly-once",
    "no-lost-events",
    "dead-letters-drain",
    "events-readable",
    "events-read-as-written",
    "client-outcomes-honoured",
    "refunds-visible",
    "honest-buyer-confirmed",
    "sagas-terminate",
    "point-stores-agree",
    "migration-no-lost-write",
    "migration-no-double-spend",
    "migration-reads-monotonic",
    "migration-one-owner",
    "migration-rollback-lossless",
    "migration-queue-tokens-kept",
    "migration-concert-view-kept",
    "migration-reservation-kept",
)


# --- the design under test -----------------------------------------------------------------------


class Design(_Frozen):
    """The flow and each safeguard of the design (ARCHITECTURE.md, "The design's switches").

    Turning a safeguard off must let the checks find the promise it keeps broken.
    """

    payment_flow: Literal["sync", "choreography", "orchestration"] = "sync"
    publish: Literal["outbox", "dual_write"] = "outbox"
    consumer_dedup: bool = True
    compensation: bool = True
    idempotency_keys: bool = True
    cancel_tombstones: bool = True
    hold_expiry: bool = True
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    dead_letter: bool = True
    partitioning: Literal["key", "random"] = "key"
    point_storage: Literal["state", "events"] = "state"
    """How Point stores accounts: a balance row per user, or event sourcing (seed 6.1)."""
    single_relay: bool = True
    """With several replicas of a service: one relay per outbox, on the replica holding the relay
    lease (True), or one relay per replica competing for the shared outbox's rows (False), which
    loses the outbox's commit order (seed 8.2)."""
    fencing: bool = True
    """With several replicas of a service: a replica evicted from its consumer group while still
    running (a zombie: paused, cut off) is fenced, as Kafka fences a stale generation and a lease
    store a stale fencing token: its offset commits, its relay's publishes and marks, its saga
    recovery and its saga steps are refused. False lets a zombie act on what it held until it finds
    out: a saga driver that wakes past its hold's deadline compensates a saga its adopter confirmed
    (seed 8.2)."""
    topology: Literal["monolith", "point_split", "queue_split", "concert_split", "services"] = "services"
    """Which services share one process, database and transaction: a stage of the migration from
    the monolith (seed 9), ``services`` being every service apart (``concertsim.sim.hosting.topology``)."""
    point_shift: Annotated[int, Field(ge=0, le=100)] = 0
    """At the ``monolith`` stage, the share (in %) of users whose Point operations the split-out
    Point service serves (round(users · point_shift / 100) users,
    ``concertsim.sim.hosting.shift_routing``), the rest staying on the monolith's in-process Point:
    the strangler pattern's gradual shift (``concertsim.sim.run.point_shift``)."""
    shift_replication: Literal["acked", "once", "none"] = "acked"
    """During a shift, how each Point store's changes reach the other: shipped in commit order and
    re-sent until acknowledged (``acked``), sent once (``once``: a lost message is never re-sent),
    or not at all (``none``)."""
    schema_compatibility: Literal[
        "backward", "backward_transitive", "forward", "forward_transitive", "full", "full_transitive", "none",
    ] = "backward"
    """The schema registry's compatibility mode for an upgraded event's schema (seed 6.3): a new
    version it refuses under the mode ships nowhere. ``backward`` is Confluent Schema Registry's
    default; ``none`` registers any schema (``concertsim.models.schemas``)."""


# --- the design in motion --------------------------------------------------------------------


class SchemaUpgrade(_Frozen):
    """A rolling upgrade of one event's schema from version 1 to version 2 (seed 6.3), whose
    shape changes (``concertsim.models.schemas``: a renamed field, a split one, a new required
    one): its producer writes v2 from ``producers_at``, its consumers read v2 natively from
    ``consumers_at`` (None: never), and ``reader`` says how a consumer reads the version it was
    not written for (``concertsim.models.events.READERS``). ``defaults`` gives v2's new fields
    defaults (optional, not required); ``aliases`` names the renamed field's old name as an alias
    in v2. The registry checks v2 under ``design.schema_compatibility`` before anyone ships it.
    ``PointLedgerEntry`` is the schema of the events in Point's event-sourced streams
    (``design.point_storage=events``): Point writes them in v2 from ``producers_at`` and replays
    its streams with a v2 reader from ``consumers_at``."""

    event: Literal["SeatReservedEvent", "ReservationCompletedEvent", "PointLedgerEntry"]
    producers_at: NonNegativeSeconds | None = None
    consumers_at: NonNegativeSeconds | None = None
    reader: Literal["strict", "tolerant", "upcasting"] = "strict"
    defaults: bool = False
    aliases: bool = True


# --- what is on sale, the rules and the workload ------------------------------------------------


class Concerts(_Frozen):
    """The concert dates on sale: ``dates`` dates of ``seats_per_date`` seats each."""

    dates: Annotated[int, Field(ge=1, le=1000)] = 3
    seats_per_date: Annotated[int, Field(ge=1, le=100_000)] = 50
    price: Annotated[int, Field(gt=0, le=1_000_000_000)] = 50_000
    opens_at: NonNegativeSeconds = 0.0
    opens_at_by_date: dict[int, NonNegativeSeconds] = Field(
        default_factory=dict,
        description="a date's own opening time, by date id (1..dates), overriding opens_at",
    )

    @model_validator(mode="after")
    def _known_dates(self) -> Concerts:
        unknown = sorted(d for d in self.opens_at_by_date if not 1 <= d <= self.dates)
        if unknown:
            raise ValueError(f"opens_at_by_date names date(s) {unknown}, but the dates are 1..{self.dates}")
        return self

    def opening_of(self, date_id: int) -> float:
        """When ``date_id`` goes on sale."""
        return self.opens_at_by_date.get(date_id, self.opens_at)


class Rules(_Frozen):
    """Business rule parameters of the services."""

    hold_ttl: PositiveSeconds = 180.0
    queue_capacity: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    token_idle_ttl: PositiveSeconds = 60.0
    waiting_token_ttl: PositiveSeconds | None = Field(
        30.0, description="seconds a waiting token lives without a poll from its user (who closed the "
        "tab): the activator skips it and the sweeper expires it; None: waiting tokens never expire",
    )
    activation_interval: PositiveSeconds = 1.0
    sweep_interval: PositiveSeconds = 5.0
    rate_limit_per_second: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] | None = None
    max_open_holds_per_user: Annotated[int, Field(ge=1, le=1000)] = Field(
        1, description="how many seats one user may hold (open, unexpired holds) at once"
    )


class Workload(_Frozen):
    """Simulated users (ARCHITECTURE.md, "Workload")."""

    arrival: Literal["flash_crowd", "steady"] = "flash_crowd"
    users: Annotated[int, Field(ge=0, le=1_000_000)] = 400
    flash_window: PositiveSeconds = 30.0
    late_fraction: Probability = Field(
        0.1, description="share of a flash crowd arriving later, uniformly from the end of the flash "
        "window to the end of the workload: the demand that buys the seats expired holds release",
    )
    rate_per_second: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)] = 1.0
    duration: PositiveSeconds = 300.0
    initial_points: Annotated[int, Field(ge=0, le=10**15)] = 0
    abandon_probability: Probability = 0.2
    think_time: Distribution = Exponential(mean=10.0)
    poll_interval: PositiveSeconds = 2.0
    patience: PositiveSeconds = 600.0
    client_timeout: PositiveSeconds = 5.0
    client_retries: Annotated[int, Field(ge=0, le=10)] = 2
    seat_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    keepalive_interval: PositiveSeconds = Field(
        20.0, description="seconds between the checkout page's requests (a refresh of the point balance) "
        "while its buyer thinks over a held seat: they keep the queue token alive like any checked request",
    )
    opening_patience: PositiveSeconds = Field(
        120.0, description="how long a user admitted before the sale opens keeps refreshing the empty "
        "list of dates before giving up",
    )
    refresh_interval: Distribution = Field(
        Uniform(low=5.0, high=15.0), description="seconds between two refreshes of the list of dates "
        "by a user waiting for the sale to open (stream workload/refresh)",
    )
    abandon_share: Probability = Field(
        0.1, description="share of users who close the tab without giving their queue token back, half "
        "of them while in line, half with a seat held (stream workload/abandon)",
    )
    ranking_share: Probability = Field(
        0.2, description="share of users who look at the fast sell-out ranking on arrival, and share of "
        "confirmed buyers who look at it after booking (stream workload/ranking)",
    )


class Settle(_Frozen):
    """After the workload phase every fault is lifted and the run continues until quiescent or
    until ``deadline`` seconds have passed."""

    deadline: PositiveSeconds = 900.0
    check_interval: PositiveSeconds = 1.0


class Expectation(_Frozen):
    """What a replayed run must reproduce: written by ``explore`` into a counterexample file."""

    trace_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    violated: tuple[PlainLine, ...] = ()


class Scenario(_Frozen):
    """A complete, self-contained description of a run (together with a seed)."""

    name: PlainLine = Field("unnamed", min_length=1, max_length=200)
    description: PlainText = ""
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 1
    design: Design = Design()
    concerts: Concerts = Concerts()
    rules: Rules = Rules()
    workload: Workload = Workload()
    services: Services = Services()
    network: Network = Network()
    broker: BrokerSpec = BrokerSpec()
    storage: StorageSpec = StorageSpec()
    seat_cache: SeatCacheSpec = SeatCacheSpec()
    schema_upgrade: SchemaUpgrade | None = None
    migration: MigrationPlan | None = None
    """A migration of a service out of the monolith during the run (``concertsim.scenarios.migration_plan``)."""
    faults: tuple[FaultSpec, ...] = ()
    settle: Settle = Settle()
    checks: Annotated[tuple[str, ...], Field(min_length=1)] | Literal["all"] = "all"
    expect: Expectation | None = None

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: tuple[str, ...] | str) -> tuple[str, ...] | str:
        if value == "all":
            return value
        unknown = [c for c in value if c not in INVARIANT_IDS]
        if unknown:
            raise ValueError(f"unknown invariant id(s) {unknown}; known: {list(INVARIANT_IDS)}")
        return value

    @model_validator(mode="after")
    def _replicas_exist(self) -> Scenario:
        for position, fault in enumerate(self.faults):
            named = replica_of(fault.target)
            if named is None:
                continue
            service, index = named
            count = getattr(self.services, service).replicas
            if index > count:
                raise ValueError(
                    f"faults[{position}].target {fault.target!r}: {service} has {count} replica(s), "
                    f"{service}#1..{service}#{count}"
                )
        return self

    @model_validator(mode="after")
    def _within_the_workload(self) -> Scenario:
        """A fault that starts after the workload ends, or a date whose sale opens after it, would
        never take effect: the run heals every fault and stops arrivals at ``workload.duration``."""
        end = self.workload.duration
        for position, fault in enumerate(self.faults):
            if fault.at > end:
                raise ValueError(
                    f"faults[{position}].at: {fault.at:g} s is after the workload ends at {end:g} s "
                    "(workload.duration), when every fault is healed: it would never strike"
                )
        opening = {"concerts.opens_at": self.concerts.opens_at}
        opening.update({f"concerts.opens_at_by_date.{date}": at for date, at in self.concerts.opens_at_by_date.items()})
        for field, at in opening.items():
            if at >= end:
                raise ValueError(
                    f"{field}: {at:g} s is not before the workload ends at {end:g} s (workload.duration): "
                    "no user could buy"
                )
        return self

    @model_validator(mode="after")
    def _shift_at_the_monolith(self) -> Scenario:
        design = self.design
        if design.point_shift == 0:
            return self
        if design.topology != "monolith":
            raise ValueError(f"design.point_shift needs design.topology monolith, not {design.topology}: the shift "
                             "moves users from the monolith's Point to the split-out one")
        if design.payment_flow != "sync" or self.broker.kind != "kafka":
            raise ValueError("design.point_shift is modelled for design.payment_flow sync and broker.kind kafka only")
        return self

    @model_validator(mode="after")
    def _migration_from_the_monolith(self) -> Scenario:
        plan = self.migration
        if plan is None:
            return self
        design = self.design
        stage = STAGE_BEFORE[plan.service]
        if design.topology != stage:
            raise ValueError(f"migration: needs design.topology {stage}, not {design.topology}: the plan moves "
                             f"{plan.service} out of the monolith" + (", with Point already apart" if stage != "monolith"
                                                                      else ""))
        if design.point_shift:
            raise ValueError("migration: and design.point_shift both move users to the split-out Point; give one")
        if design.payment_flow != "sync" or self.broker.kind != "kafka":
            raise ValueError("migration: is modelled for design.payment_flow sync and broker.kind kafka only")
        end = self.workload.duration
        for depth, chained in enumerate(plan.chain()):
            for position, step in enumerate(chained.steps):
                if step.at + step.duration > end:
                    raise ValueError(f"migration.{'then.' * depth}steps[{position}]: ends at "
                                     f"{step.at + step.duration:g} s, after the workload ends at {end:g} s "
                                     "(workload.duration)")
        return self

    def plan_of(self, service: str) -> MigrationPlan | None:
        """The migration plan (of ``migration``'s chain) that moves ``service``, if any."""
        return None if self.migration is None else self.migration.plan_of(service)

    @model_validator(mode="after")
    def _replicas_only_apart(self) -> Scenario:
        replicated = [name for name in SERVICE_NAMES if getattr(self.services, name).replicas > 1]
        if replicated and self.design.topology != "services":
            raise ValueError(
                f"services.{replicated[0]}.replicas > 1 needs design.topology services: at the "
                f"{self.design.topology} stage a service shares a process with others and runs as one instance"
            )
        return self

    def enabled_checks(self) -> tuple[str, ...]:
        return INVARIANT_IDS if self.checks == "all" else tuple(self.checks)

    def schema_rollout(self) -> SchemaRollout | None:
        """The scenario's ``schema_upgrade`` as the registry in ``design.schema_compatibility``
        lets it roll out (``refused`` says why it did not), or None without one."""
        upgrade = self.schema_upgrade
        if upgrade is None:
            return None
        return plan_rollout(upgrade.event, upgrade.producers_at, upgrade.consumers_at, upgrade.reader,
                            compatibility=self.design.schema_compatibility, defaults=upgrade.defaults,
                            aliases=upgrade.aliases)
