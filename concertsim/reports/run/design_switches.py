"""The design's switches in words: one row per field of :class:`Design`, saying what the default
does and what changes, and what may break, when a scenario sets it otherwise.

This table is the one place reports take these words from: the scenario table explains each
switch with ``meaning``; a failure report names the cause of a broken promise with ``when_changed``,
for each switch that differs from the default design and exists for that promise (``protects``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from concertsim.checks.base import Verdict
from concertsim.scenarios.schema import Design

__all__ = ["Switch", "SWITCHES", "DesignChange", "design_changes", "value_text", "explained_first"]


@dataclass(frozen=True)
class Switch:
    field: str
    label: str
    seed_section: str
    meaning: str
    """What the switch does, in the default design's terms."""
    when_changed: Callable[[Any, Any], str]
    """(value, default value) -> one sentence: what is different, and what it lets break."""
    protects: tuple[str, ...] = ()
    """The invariants the default setting exists for."""


_FLOWS = {
    "sync": "the synchronous flow: Reservation calls Point to use the points, then confirms",
    "choreography": "the choreography flow: Point's PointUsedEvent confirms the reservation, so a payment "
                    "waits on the broker instead of a call",
    "orchestration": "the orchestration flow: an orchestrator in Reservation drives a persisted payment saga "
                     "and commands Point's refund when the confirmation fails",
}


_STAGES = {
    "monolith": "one process runs every service on one database: calls between services are function calls and "
                "events are handled in the transaction that raised them, so a payment and its deduction commit "
                "together or not at all, and one crash stops everything",
    "point_split": "Point runs apart with its own database, reached over the network and through the broker; the "
                   "rest is still one process, so a deduction can now outlive a payment that failed",
    "queue_split": "Point and Queue run apart; Reservation, Concert and Data Platform are still one process",
    "concert_split": "Point, Queue and Concert run apart; Reservation and Data Platform are still one process, so "
                     "Concert's seat view now lags the bookings",
    "services": "every service runs apart",
}


def _retries(value: int, default: int) -> str:
    fewer = "fewer" if value < default else "more"
    return (f"consumers retry a failing event {value} time(s) instead of {default} before it is parked: "
            f"{fewer} retries change how soon a failing event leaves the way of those behind it")


SWITCHES: tuple[Switch, ...] = (
    Switch(
        "payment_flow", "payment flow", "3.1, 4.2.1",
        "sync: Reservation calls Point to use the points, then confirms; choreography: Point's "
        "PointUsedEvent confirms the reservation; orchestration: an orchestrator in Reservation drives a "
        "persisted payment saga and commands the refund",
        lambda value, default: _FLOWS.get(value, f"the {value} payment flow"),
    ),
    Switch(
        "publish", "publishing", "6.2",
        "outbox: events are written in the same transaction as the change and relayed; dual_write: "
        "commit, then publish straight to the broker",
        lambda value, default: (
            "events are published after the commit, not through an outbox: an event whose publish "
            "fails, or whose service stops in between, is lost for good" if value == "dual_write"
            else "events are written to an outbox with the change and relayed"
        ),
        ("no-lost-events", "seat-view-converges", "ranking-converges", "data-platform-exactly-once"),
    ),
    Switch(
        "consumer_dedup", "consumer de-duplication", "4.2.3",
        "consumers record processed event ids and skip redeliveries",
        lambda value, default: (
            "consumers keep no processed-event table: an event delivered twice is applied twice"
            if not value else "consumers skip events they have processed"
        ),
        ("data-platform-exactly-once", "ranking-converges"),
    ),
    Switch(
        "compensation", "compensation", "4.2.2",
        "ReservationFailedEvent refunds the points of a failed payment",
        lambda value, default: (
            "compensation is switched off: nothing refunds a deduction whose reservation failed"
            if not value else "ReservationFailedEvent refunds a failed payment's points"
        ),
        ("no-orphaned-deduction", "client-outcomes-honoured", "refunds-visible"),
    ),
    Switch(
        "idempotency_keys", "idempotency keys", "4.2.3",
        "a point use retried after a lost reply is applied once",
        lambda value, default: (
            "point uses carry no idempotency key: a request retried after a lost reply deducts again"
            if not value else "a retried point use is applied once"
        ),
        ("no-orphaned-deduction", "client-outcomes-honoured", "charge-exactly-once"),
    ),
    Switch(
        "cancel_tombstones", "refund tombstones", "4.1",
        "a refund that overtakes its deduction blocks the late deduction",
        lambda value, default: (
            "refunds leave no tombstone: a deduction that arrives after its reservation's refund "
            "is taken and stays taken" if not value else "a refund blocks a deduction that arrives after it"
        ),
        ("no-orphaned-deduction", "client-outcomes-honoured"),
    ),
    Switch(
        "hold_expiry", "hold expiry", "4.1",
        "a sweeper expires unpaid holds and frees their seats",
        lambda value, default: (
            "hold expiry is switched off: no sweeper frees the seat of a hold nobody pays"
            if not value else "a sweeper expires unpaid holds"
        ),
        ("seats-released-on-expiry", "sagas-terminate"),
    ),
    Switch(
        "dead_letter", "dead-letter topic", "4.2.3",
        "an event that keeps failing is parked with its reason, not dropped",
        lambda value, default: (
            "there is no dead-letter topic: an event that still fails after its retries is dropped "
            "and lost" if not value else "an event that keeps failing is parked with its reason"
        ),
        ("no-lost-events", "seat-view-converges", "ranking-converges"),
    ),
    Switch(
        "retries", "consumer retries", "4.2.3",
        "times a failing event is retried, with backoff, before it is parked",
        _retries,
    ),
    Switch(
        "partitioning", "partitioning", "4.2.3",
        "by key, one seat's events stay in order; at random they may overtake each other",
        lambda value, default: (
            "events are spread over partitions at random, not by key: one seat's events can "
            "overtake each other, and a late one overwrites a newer state" if value == "random"
            else "events are partitioned by key, so one seat's events stay in order"
        ),
        ("seat-view-converges",),
    ),
    Switch(
        "point_storage", "Point's accounts", "6.1",
        "state: a balance row per user; events: Point stores each user's events and derives balances by "
        "replaying them, from a snapshot when there is one",
        lambda value, default: (
            "Point stores events only and derives each balance by replaying them (event sourcing): a "
            "snapshot that disagrees with its events would show a balance no replay gives" if value == "events"
            else "Point keeps a balance row per user"
        ),
        ("point-replay-consistent",),
    ),
    Switch(
        "single_relay", "relays per outbox", "6.2, 8.2",
        "with several replicas of a service, one relay per outbox, on the replica holding its lease, "
        "publishes the rows in commit order; off: every replica runs a relay and they compete for the rows",
        lambda value, default: (
            "every replica of a service runs its own relay, competing for the shared outbox's rows: "
            "while one relay retries a seat's event another may publish the seat's later one first"
            if not value else "one relay per outbox publishes its rows in commit order"
        ),
        ("seat-view-converges",),
    ),
    Switch(
        "fencing", "zombie fencing", "8.2",
        "with several replicas of a service, a replica evicted from its consumer group while still running "
        "(paused, cut off) has its stale offset commits, relay publishes and saga steps refused by generation "
        "and fencing token; off: they are applied until it finds out",
        lambda value, default: (
            "a replica evicted while still running acts on what it held until it finds out: its stale "
            "commits, publishes and saga steps are applied beside the new owner's" if not value
            else "a replica evicted while still running is fenced by generation and fencing token"
        ),
        ("no-orphaned-deduction", "seat-view-converges", "data-platform-exactly-once"),
    ),
    Switch(
        "topology", "migration stage", "9",
        "services: every service is its own process with its own database, reached over the network and "
        "through the broker; monolith: one process, one database, one local transaction; point_split, "
        "queue_split, concert_split: the stages between, Point, then Queue, then Concert split out",
        lambda value, default: _STAGES.get(value, f"the {value} stage of the migration"),
    ),
    Switch(
        "point_shift", "traffic shifted to the split-out Point", "9",
        "0: the monolith's in-process Point serves every user; x (at the monolith stage): x % of the "
        "users are served by the split-out Point service and its own store, the two stores "
        "kept in sync by replication",
        lambda value, default: (
            f"{value} % of the users are served by the split-out Point over the network while the "
            "rest stay in-process: their payments meet the distributed transaction problem, and the two Point "
            "stores must be kept alike by replication" if value else "the monolith's Point serves every user"
        ),
    ),
    Switch(
        "shift_replication", "replication between the Point stores", "9",
        "acked: during a traffic shift each Point store's changes are shipped to the other in commit order "
        "and re-sent until acknowledged; once: sent once; none: not shipped",
        lambda value, default: {
            "once": "each store's changes are sent to the other once: a lost replication message is a change "
                    "the other store never sees, and the stores disagree",
            "none": "no change reaches the other store: the stores disagree from the first change on",
        }.get(value, "each store's changes are re-sent until the other acknowledges them"),
        ("point-stores-agree",),
    ),
    Switch(
        "schema_compatibility", "schema registry compatibility", "6.3",
        "backward: the schema registry registers an upgraded event's new version only if a reader of it "
        "reads the data of the last version (Confluent's default); backward_transitive: of every earlier "
        "version; forward, forward_transitive: if readers of the earlier version read the new one's data; "
        "full, full_transitive: both; none: it registers any version",
        lambda value, default: _COMPATIBILITY.get(value, f"the schema registry checks new versions {value}"),
        ("events-readable",),
    ),
)

_COMPATIBILITY = {
    "none": "the schema registry registers any new version of an event's schema: a version its readers "
            "cannot resolve ships, and consumers refuse the events they are delivered",
    "backward": "the schema registry registers a new version only if its readers can read the last version's "
                "data (BACKWARD)",
    "backward_transitive": "the schema registry registers a new version only if its readers can read every "
                           "earlier version's data (BACKWARD_TRANSITIVE)",
    "forward": "the schema registry registers a new version if the last version's readers can read its data "
               "(FORWARD): upgraded consumers may be unable to read records written before",
    "forward_transitive": "the schema registry registers a new version if every earlier version's readers can "
                          "read its data (FORWARD_TRANSITIVE): upgraded consumers may be unable to read older "
                          "records",
    "full": "the schema registry registers a new version only if it and the last version read each other's "
            "data (FULL)",
    "full_transitive": "the schema registry registers a new version only if it and every earlier version read "
                       "each other's data (FULL_TRANSITIVE)",
}


def value_text(value: Any) -> str:
    """A switch's value as the scenario shows it: on/off for a flag."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _override(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class DesignChange:
    """One way a scenario's design differs from the default :class:`Design`."""

    switch: Switch
    value: Any
    default: Any

    @property
    def sentence(self) -> str:
        return self.switch.when_changed(self.value, self.default)

    @property
    def setting(self) -> str:
        """E.g. ``design.compensation=false``: the override that makes this change."""
        return f"design.{self.switch.field}={_override(self.value)}"

    @property
    def default_setting(self) -> str:
        """E.g. ``compensation=true``: the switch as the default design sets it."""
        return f"{self.switch.field}={_override(self.default)}"

    def explains(self, invariant: str) -> bool:
        """Whether the default setting of this switch exists to keep ``invariant``."""
        return invariant in self.switch.protects


def design_changes(design: Design) -> list[DesignChange]:
    """How ``design`` differs from the default design, in the order of :data:`SWITCHES`."""
    default = Design()
    return [
        DesignChange(switch, getattr(design, switch.field), getattr(default, switch.field))
        for switch in SWITCHES
        if getattr(design, switch.field) != getattr(default, switch.field)
    ]


def explained_first(verdicts: Sequence[Verdict], design: Design) -> list[Verdict]:
    """The broken verdicts, those the design's differences from the default explain first, in
    the order each difference lists what it protects (``publish=dual_write`` leads with
    no-lost-events), then the rest in their own order."""
    changes = design_changes(design)
    broken = [v for v in verdicts if v.violated]

    def rank(verdict: Verdict) -> tuple[int, int]:
        for position, change in enumerate(changes):
            if change.explains(verdict.invariant.id):
                return (position, change.switch.protects.index(verdict.invariant.id))
        return (len(changes), 0)

    return sorted(broken, key=rank)
