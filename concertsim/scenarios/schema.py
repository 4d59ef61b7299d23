"""The Scenario: everything a run needs, as immutable, validated data.

A scenario is the *description* layer (STYLE.md): the runtime reads it and never changes it. Every
model forbids unknown keys and validates its values, so a typo in a YAML file is an error naming the
field, not a silently ignored setting. Times are seconds of simulated time unless a name says
otherwise.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

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
    "SERVICE_NAMES",
    "INVARIANT_IDS",
    "text_problem",
]

SERVICE_NAMES = ("gateway", "reservation", "point", "queue", "concert", "data_platform")
DOMAIN_SERVICES = SERVICE_NAMES[1:]
PARTIES = (*SERVICE_NAMES, "broker", "client")
CHANNELS = ("request", "reply", "publish", "ack", "delivery", "offset_commit")

INVARIANT_IDS = (
    "no-double-booking",
    "no-duplicate-holds",
    "points-never-negative",
    "points-ledger-balanced",
    "no-double-refund",
    "charge-exactly-once",
    "queue-capacity",
    "no-orphaned-deduction",
    "seats-released-on-expiry",
    "seat-view-converges",
    "ranking-converges",
    "data-platform-exactly-once",
    "no-lost-events",
    "dead-letters-drain",
    "client-outcomes-honoured",
    "refunds-visible",
    "honest-buyer-confirmed",
    "sagas-terminate",
)

MAX_SECONDS = 1e7  # about four months of simulated time: longer is a typo, not a scenario
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
NonNegativeSeconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


# Characters that make text display differently from what it is: the Unicode bidirectional
# controls (an override turns "exe.txt" into what reads as "txt.exe") and line separators.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` cannot stand in a report or a terminal as written, or None if it can.

    Refused: bidirectional controls, control characters (newline and tab only where ``multiline``)
    and the Unicode line and paragraph separators. Free text in a scenario ends up in HTML titles,
    Markdown and terminal output, where such characters reorder or hide what is shown.
    """
    for position, char in enumerate(text, start=1):
        if multiline and char in "\n\t":
            continue
        category = unicodedata.category(char)
        if char in _BIDI_CONTROLS:
            kind = "the bidirectional control character"
        elif category == "Cc":
            kind = "the control character"
        elif category in ("Zl", "Zp"):
            kind = "the line separator"
        else:
            continue
        name = unicodedata.name(char, "")
        return (
            f"contains {kind} U+{ord(char):04X}{f' ({name})' if name else ''} at position {position}: "
            "it would make the text display differently from what it is; remove it"
        )
    return None


def _plain_line(text: str) -> str:
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _plain_text(text: str) -> str:
    problem = text_problem(text, multiline=True)
    if problem:
        raise ValueError(problem)
    return text


PlainLine = Annotated[str, AfterValidator(_plain_line)]
"""One line of free text: no control, bidirectional or line-separator characters."""
PlainText = Annotated[str, AfterValidator(_plain_text)]
"""Free text that may span lines (newlines and tabs allowed), otherwise as :data:`PlainLine`."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# --- distributions -------------------------------------------------------------------------------


class Constant(_Frozen):
    """Always ``value`` seconds."""

    kind: Literal["constant"] = "constant"
    value: NonNegativeSeconds


class Exponential(_Frozen):
    """Memoryless, with the given mean."""

    kind: Literal["exponential"] = "exponential"
    mean: PositiveSeconds


class LogNormal(_Frozen):
    """Right-skewed, like real latencies: ``median`` seconds, spread ``sigma`` (of the log)."""

    kind: Literal["lognormal"] = "lognormal"
    median: PositiveSeconds
    sigma: Annotated[float, Field(ge=0, le=3, allow_inf_nan=False)] = 0.5


class Uniform(_Frozen):
    kind: Literal["uniform"] = "uniform"
    low: NonNegativeSeconds
    high: NonNegativeSeconds

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")
        return self


Distribution = Annotated[
    Constant | Exponential | LogNormal | Uniform, Field(discriminator="kind")
]


# --- the design under test -----------------------------------------------------------------------


class Design(_Frozen):
    """The flow and each safeguard of the design (ARCHITECTURE.md, "The design's switches").

    Turning a safeguard off must let the checks find the promise it keeps broken.
    """

    payment_flow: Literal["sync", "choreography"] = "sync"
    publish: Literal["outbox", "dual_write"] = "outbox"
    consumer_dedup: bool = True
    compensation: bool = True
    idempotency_keys: bool = True
    cancel_tombstones: bool = True
    hold_expiry: bool = True
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    dead_letter: bool = True
    partitioning: Literal["key", "random"] = "key"


# --- topology and infrastructure -----------------------------------------------------------------


class ServiceSpec(_Frozen):
    """One service host: a bounded worker pool and the time each request or event takes."""

    workers: Annotated[int, Field(ge=1, le=10_000)] = 8
    service_time: Distribution = LogNormal(median=0.004, sigma=0.4)
    endpoint_times: dict[PlainLine, Distribution] = Field(
        default_factory=dict,
        description="per-endpoint service time overriding service_time, by endpoint name",
    )
    restart_time: PositiveSeconds = 5.0


class Services(_Frozen):
    gateway: ServiceSpec = ServiceSpec(workers=64, service_time=Constant(value=0.0005))
    reservation: ServiceSpec = ServiceSpec()
    point: ServiceSpec = ServiceSpec()
    queue: ServiceSpec = ServiceSpec(service_time=LogNormal(median=0.001, sigma=0.3))
    concert: ServiceSpec = ServiceSpec(service_time=LogNormal(median=0.002, sigma=0.3))
    data_platform: ServiceSpec = ServiceSpec(workers=2)


class Network(_Frozen):
    """Synchronous calls between parties."""

    latency: Distribution = LogNormal(median=0.002, sigma=0.5)
    call_timeout: PositiveSeconds = Field(0.5, description="service-to-service call timeout")
    call_retries: Annotated[int, Field(ge=0, le=10)] = 1
    retry_backoff: PositiveSeconds = 0.1
    gateway_timeout: PositiveSeconds = Field(3.0, description="the gateway's wait for a service")


class BrokerSpec(_Frozen):
    """The Kafka-like broker: partitions per topic, delivery latency, consumer retry backoff."""

    partitions: Annotated[int, Field(ge=1, le=256)] = 4
    latency: Distribution = LogNormal(median=0.003, sigma=0.5)
    fetch_timeout: PositiveSeconds = 1.0
    retry_backoff: PositiveSeconds = 0.5
    relay_poll_interval: PositiveSeconds = 0.5
    relay_batch: Annotated[int, Field(ge=1, le=10_000)] = 50
    relay_publish: Literal["each", "batch"] = Field(
        "each",
        description="how the outbox relay publishes: 'each' awaits an acknowledgement per event "
        "(one event per round trip), 'batch' sends up to relay_batch events per produce request",
    )
    restart_time: PositiveSeconds = 5.0


class SeatCacheSpec(_Frozen):
    """Concert's cache of each date's free seats, in front of its seat view (seed 3.2)."""

    mode: Literal["none", "invalidated", "ttl"] = Field(
        "none",
        description="none: every seat listing reads the view; invalidated: a listing is cached "
        "until a seat event of its date is committed to the view; ttl: cached for ttl seconds, "
        "whatever happens meanwhile",
    )
    ttl: PositiveSeconds = Field(5.0, description="how long a cached listing is served in ttl mode")


class StorageSpec(_Frozen):
    """Each service's database: commit latency, optimistic-conflict retries, connection pool."""

    commit_latency: Distribution = LogNormal(median=0.002, sigma=0.3)
    conflict_retries: Annotated[int, Field(ge=0, le=100)] = 5
    connections: Annotated[int | None, Field(ge=1, le=10_000)] = Field(
        10,
        description="connections per database: a commit holds one for its latency and waits when "
        "all are taken (null: unlimited); 10, a common pool size, binds in none of the built-in scenarios",
    )


class Concerts(_Frozen):
    """The concert dates on sale: ``dates`` dates of ``seats_per_date`` seats each."""

    dates: Annotated[int, Field(ge=1, le=1000)] = 3
    seats_per_date: Annotated[int, Field(ge=1, le=100_000)] = 50
    price: Annotated[int, Field(gt=0)] = 50_000
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
    queue_capacity: Annotated[int, Field(ge=1)] = 100
    token_idle_ttl: PositiveSeconds = 60.0
    activation_interval: PositiveSeconds = 1.0
    sweep_interval: PositiveSeconds = 5.0
    rate_limit_per_second: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
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
    rate_per_second: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0
    duration: PositiveSeconds = 300.0
    initial_points: Annotated[int, Field(ge=0)] = 0
    abandon_probability: Probability = 0.2
    think_time: Distribution = Exponential(mean=10.0)
    poll_interval: PositiveSeconds = 2.0
    patience: PositiveSeconds = 600.0
    client_timeout: PositiveSeconds = 5.0
    client_retries: Annotated[int, Field(ge=0, le=10)] = 2
    seat_attempts: Annotated[int, Field(ge=1, le=100)] = 3


class MessageFilter(_Frozen):
    """Which messages a message fault strikes. Every given field must match; occurrence counting
    (``skip``, ``count``) applies to the messages that match."""

    message_type: PlainLine | None = Field(None, description="event type or endpoint name")
    key: PlainLine | None = None
    group: PlainLine | None = Field(None, description="consumer group (broker deliveries)")
    source: PlainLine | None = None
    destination: PlainLine | None = None
    skip: Annotated[int, Field(ge=0)] = 0
    count: Annotated[int, Field(ge=1)] | None = None
    rate: Probability = 1.0


FaultKind = Literal[
    "crash",
    "partition",
    "drop",
    "duplicate",
    "delay",
    "reorder",
    "slow",
    "commit_failure",
    "clock_skew",
]


class FaultSpec(_Frozen):
    """One fault: ``kind`` strikes ``target`` from ``at`` for ``duration`` seconds.

    Targets by kind:

    - ``crash``: a service, ``gateway``, ``broker``, ``relay:<service>`` (the outbox relay only) or
      ``consumer:<service>`` (that service's consumers only). ``duration`` 0 means the target's
      restart time.
    - ``partition``: ``a|b`` cuts both directions, ``a->b`` only messages from a to b; parties are
      the services, ``gateway``, ``broker`` and ``client``.
    - ``drop``, ``duplicate``, ``delay``, ``reorder``: a message channel (``request``, ``reply``,
      ``publish``, ``ack``, ``delivery``, ``offset_commit``), narrowed by ``match``. ``delay`` takes
      ``params.seconds``; ``reorder`` holds each struck message back a random time up to
      ``params.window`` so later ones overtake it.
    - ``slow`` (``params.factor``), ``commit_failure`` (``params.rate``), ``clock_skew``
      (``params.seconds``): a service.

    Except for ``crash``, ``duration`` 0 means "until the heal phase".
    """

    at: NonNegativeSeconds
    kind: FaultKind
    target: PlainLine = Field(min_length=1)
    duration: NonNegativeSeconds = 0.0
    match: MessageFilter | None = None
    params: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target_fits_kind(self) -> FaultSpec:
        problem = target_problem(self.kind, self.target)
        if problem:
            raise ValueError(problem)
        if self.kind == "delay" and self.params.get("seconds", 0.0) < 0:
            raise ValueError("params.seconds of a delay must not be negative")
        unknown = set(self.params) - set(FAULT_PARAMS[self.kind])
        if unknown:
            raise ValueError(
                f"{self.kind} takes params {sorted(FAULT_PARAMS[self.kind]) or 'none'}, "
                f"not {sorted(unknown)}"
            )
        if self.match is not None and self.kind not in MESSAGE_FAULTS:
            raise ValueError(f"match applies to message faults {MESSAGE_FAULTS}, not {self.kind}")
        for name, value in self.params.items():
            low, high, meaning = PARAM_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f"params.{name} = {value} is outside [{low}, {high}] ({meaning})")
        return self


MESSAGE_FAULTS = ("drop", "duplicate", "delay", "reorder")
FAULT_PARAMS: dict[str, tuple[str, ...]] = {
    "crash": (),
    "partition": (),
    "drop": (),
    "duplicate": ("gap",),
    "delay": ("seconds",),
    "reorder": ("window",),
    "slow": ("factor",),
    "commit_failure": ("rate",),
    "clock_skew": ("seconds",),
}


PARAM_RANGES: dict[str, tuple[float, float, str]] = {
    "gap": (0.0, 3600.0, "seconds between a message and its duplicate"),
    "seconds": (-86_400.0, 86_400.0, "seconds of delay or of clock skew"),
    "window": (0.0, 3600.0, "seconds a reordered message may be held back"),
    "factor": (0.001, 10_000.0, "how many times slower the service gets"),
    "rate": (0.0, 1.0, "the fraction of commits that fail"),
}


def target_problem(kind: str, target: str) -> str | None:
    """Why ``target`` is not a valid target of a ``kind`` fault, or None if it is."""
    if kind == "crash":
        allowed = [*SERVICE_NAMES, "broker"]
        allowed += [f"relay:{s}" for s in DOMAIN_SERVICES] + [f"consumer:{s}" for s in DOMAIN_SERVICES]
    elif kind == "partition":
        separator = "->" if "->" in target else "|"
        sides = target.split(separator)
        if len(sides) != 2 or sides[0] == sides[1] or not all(s in PARTIES for s in sides):
            return (
                f"partition target {target!r} must be 'a|b' or 'a->b' with two different parties "
                f"of {list(PARTIES)}"
            )
        return None
    elif kind in MESSAGE_FAULTS:
        allowed = list(CHANNELS)
    elif kind == "commit_failure":
        allowed = list(DOMAIN_SERVICES)
    else:
        allowed = list(SERVICE_NAMES)
    if target not in allowed:
        return f"{kind} target {target!r} is not one of {allowed}"
    return None


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

    def enabled_checks(self) -> tuple[str, ...]:
        return INVARIANT_IDS if self.checks == "all" else tuple(self.checks)

