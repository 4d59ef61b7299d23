"""Ablation: switch each safeguard of the design off and show which promise breaks.

Each :class:`Safeguard` names the design switch that removes it, the invariants it protects, and
the fault kinds under which its absence shows (the search is focused on those, so the matrix comes
out in minutes rather than hours; ``concertsim explore --set ...`` searches all kinds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from concertsim.exploration import Exploration, explore
from concertsim.scenarios.loader import ScenarioError, scenario_from_data
from concertsim.scenarios.schema import Scenario

__all__ = ["Safeguard", "SAFEGUARDS", "AblationRow", "ablate", "ablated"]


@dataclass(frozen=True)
class Safeguard:
    switch: str
    """The override that removes the safeguard, e.g. ``design.publish=dual_write``."""
    protects: tuple[str, ...]
    """Invariants this safeguard exists for."""
    kinds: tuple[str, ...]
    """Fault kinds under which its absence shows."""
    why: str
    seed_section: str
    redundant_in: tuple[str, ...] = ()
    """Payment flows in which another mechanism already keeps the promise (a finding; see
    ``redundancy``)."""
    redundancy: str = ""
    setting: tuple[str, ...] = ()
    """Overrides the base needs for the safeguard to matter at all (e.g. replicas of a service),
    applied with the switch."""
    flows: tuple[str, ...] = ()
    """The payment flows the safeguard exists in (empty: every flow); the others get no cell."""

    def applies_to(self, flow: str) -> bool:
        return not self.flows or flow in self.flows

    @property
    def moves(self) -> str | None:
        """The service the row's migration plan moves when it is not Point (its setting's
        ``migration.service``), else None."""
        for override in self.setting:
            key, _, value = override.partition("=")
            if key == "migration.service" and value != "point":
                return value
        return None

    @property
    def name(self) -> str:
        """The row's name: its switch, and for a plan moving Queue, Concert or Reservation the service after an
        ``@`` (``migration.fence=false@queue``), so that the same switch on two services names two rows
        (``ablate --only`` matches it, counterexample files are named after it)."""
        return self.switch if self.moves is None else f"{self.switch}@{self.moves}"


_IN_ORDER_QUEUES = ("broker.kind=rabbitmq", "broker.single_active_consumer=true", "broker.retry_in_place=true")
"""A RabbitMQ-like broker set to keep each key's order (the built-in ``rabbitmq-broker``)."""
_QUEUE_MOVE = ("design.topology=point_split", "migration.service=queue")
"""A plan moving Queue, at the stage it moves from (Point already apart)."""
_CONCERT_MOVE = ("design.topology=queue_split", "migration.service=concert")
"""A plan moving Concert, at the stage it moves from (Point and Queue already apart)."""
_RESERVATION_MOVE = ("design.topology=concert_split", "migration.service=reservation")
"""A plan moving Reservation, at the stage it moves from (every other service already apart)."""
_ROLLED_BACK = "migration.steps=[{at: 0, action: copy}, {at: 5, action: cutover}, {at: 10, action: rollback}]"
"""A plan that cuts over and hands the service back: what ``catch_up`` guards in a move at once."""

SAFEGUARDS: tuple[Safeguard, ...] = (
    Safeguard(
        "design.publish=dual_write", ("no-lost-events", "seat-view-converges", "data-platform-exactly-once"),
        ("crash", "partition"),
        "Committing then publishing loses the event when the publish fails or the service dies "
        "in between; the outbox commits it with the business change.", "6.2",
    ),
    Safeguard(
        "design.consumer_dedup=false", ("data-platform-exactly-once", "ranking-converges"),
        ("duplicate", "crash"),
        "At-least-once delivery redelivers events; without the processed-id table a consumer "
        "applies them twice.", "4.2.3",
    ),
    Safeguard(
        "design.compensation=false", ("no-orphaned-deduction", "client-outcomes-honoured"),
        ("drop", "delay", "crash"),
        "When the confirmation fails after the deduction, only ReservationFailedEvent → refund "
        "gives the points back.", "4.2.2",
    ),
    Safeguard(
        "design.idempotency_keys=false", ("no-orphaned-deduction",),
        ("drop", "duplicate"),
        "A point-use request retried after a lost reply is applied twice without its key.", "4.2.3",
    ),
    Safeguard(
        "design.cancel_tombstones=false", ("no-orphaned-deduction",),
        ("delay", "slow"),
        "A deduction request that arrives after its reservation's refund must be refused, or it "
        "stays deducted for a failed reservation.", "4.1, 4.2.2",
        redundant_in=("choreography",),
        redundancy="In the choreography flow every deduction is announced by PointUsedEvent, and "
        "Reservation answers a deduction it cannot confirm with ReservationFailedEvent, so a "
        "deduction that arrives after its refund is refunded in turn.",
    ),
    Safeguard(
        "design.hold_expiry=false", ("seats-released-on-expiry", "sagas-terminate"),
        ("crash",),
        "Abandoned holds are only released by the sweeper.", "4.1",
    ),
    Safeguard(
        "design.partitioning=random", ("seat-view-converges",),
        ("delay", "reorder"),
        "A seat's events keep their order only within one partition; spread at random, a late "
        "SeatReservedEvent overwrites the later sale or release.", "4.2.3",
    ),
    Safeguard(
        "design.dead_letter=false", ("no-lost-events",),
        ("commit_failure",),
        "A message that keeps failing is parked for manual handling; without a dead-letter topic "
        "it is dropped after the retries.", "4.2.3",
    ),
    Safeguard(
        "design.single_relay=false", ("seat-view-converges",),
        ("drop", "delay"),
        "With several replicas, one relay per outbox publishes its rows in commit order; relays "
        "competing for the rows let a seat's later event reach the broker while its earlier one "
        "is still being retried.", "6.2, 8.2",
        setting=("services.reservation.replicas=3",),
    ),
    Safeguard(
        "design.fencing=false", ("no-orphaned-deduction", "seat-view-converges", "data-platform-exactly-once"),
        ("pause", "drop"),
        "A replica frozen past its session timeout is evicted while it still runs; when it resumes, its "
        "offset commits, relay publishes and saga steps are stale and must be refused by generation and "
        "fencing token, or they are applied beside the new owner's. A saga driver frozen past its hold's "
        "deadline with its deduction unanswered wakes to compensate, over the saga its adopter confirmed: "
        "Point refunds a sold seat.", "8.2",
        redundant_in=("sync", "choreography"),
        redundancy="In these flows a zombie's stale actions are absorbed without fencing: the inbox skips "
        "the events it publishes or handles again, a stale transaction conflicts at commit and is re-run on "
        "fresh reads, and Point's idempotency keys and tombstones absorb its calls. Only the orchestrator "
        "acts on what it decided before it froze (its compensation), which no absorber undoes.",
        # Two replicas, a session shorter than the drawn pauses, and calls that wait long enough
        # (2 s) for a pause to catch a driver between its deduction and its step.
        setting=("services.reservation.replicas=2", "broker.session_timeout=10", "network.call_timeout=2"),
    ),
    # A RabbitMQ-like broker keeps a seat's events in order only with both of these on (the built-in
    # rabbitmq-broker): each row switches one off with the other on.
    Safeguard(
        "broker.single_active_consumer=false", ("seat-view-converges",),
        ("drop", "crash"),
        "Competing consumers of one queue each take the next message, so a seat's event redelivered "
        "after its channel closed is handled after the seat's later event; with a single active "
        "consumer the others stand by.", "4.2.3, 8",
        setting=_IN_ORDER_QUEUES,
    ),
    Safeguard(
        "broker.retry_in_place=false", ("seat-view-converges",),
        ("commit_failure",),
        "A failed handling nacked into the queue's delay queue comes back behind the messages that "
        "followed it, so a seat's event that failed once is applied after the seat's next one; "
        "retried in place it holds the queue back instead.", "4.2.3, 8",
        setting=_IN_ORDER_QUEUES,
    ),
    Safeguard(
        "design.schema_compatibility=none", ("events-readable",),
        # no fault is needed: the upgrade alone breaks it, whatever the workload
        ("crash",),
        "The schema registry refuses, under BACKWARD compatibility, a version 2 whose new required "
        "fields a v2 reader cannot find in v1 records; registered without the check, it ships and the "
        "consumers upgraded first refuse every v1 event still written and parked.", "6.3",
        setting=("schema_upgrade.event=SeatReservedEvent", "schema_upgrade.consumers_at=0",
                 "schema_upgrade.reader=tolerant"),
    ),
    # Point's migration in motion (seed 9): each row runs the default plan over the base's workload
    # (copy, verify, shift, verify, cutover) at the monolith stage, in the sync flow the migration
    # is modelled for, with the other safeguards that would hide the switched one's absence off.
    Safeguard(
        "migration.acks=false", ("migration-no-lost-write",),
        ("drop",),
        "The copy tails the old store's commit log and advances its position only when the new store "
        "acknowledges a batch; sent once, a lost batch is a write the new store never gets.", "9",
        setting=("design.topology=monolith", "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.capture=dual_write", ("migration-no-lost-write",),
        ("drop",),
        "Writing each change to the new store by a request of its own after the commit loses it when "
        "the request is lost; change data capture reads it back from the commit log.", "9",
        setting=("design.topology=monolith", "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.verify=false", ("migration-no-lost-write",),
        ("drop",),
        "Comparing the stores before the shift and the cutover finds the rows a lossy copy missed and "
        "rolls the move back; unverified, the cutover hands the new store an incomplete copy.", "9",
        setting=("design.topology=monolith", "migration.acks=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.catch_up=false", ("migration-no-double-spend", "charge-exactly-once"),
        ("drop",),
        "A user moved while the copy lags finds the new store without the idempotency keys of their "
        "last requests, and a retry is applied a second time there; waiting for the copy closes the gap.",
        "9", setting=("design.topology=monolith",), flows=("sync",),
    ),
    Safeguard(
        "migration.fence=false", ("migration-one-owner", "migration-no-lost-write"),
        ("drop",),
        "Routers learn of a switch a moment late; until then they send writes to the old store, which "
        "must refuse them once it no longer owns the user, or they land where nobody copies them from.",
        "9", setting=("design.topology=monolith",
                      "migration.steps=[{at: 0, action: copy}, {at: 5, action: cutover}]"), flows=("sync",),
    ),
    # Queue's move (seed 9, second): each row runs Queue's default plan (copy, verify, the waiting
    # line cut over at once; catch_up's, a plan that also rolls back) at the point_split stage, in the
    # sync flow.
    Safeguard(
        "migration.acks=false", ("migration-queue-tokens-kept",),
        ("drop",),
        "A batch of the waiting line's changes sent once and lost is a token, or a move of the line's "
        "head, the new store never gets; it takes the line over without it.", "9",
        setting=(*_QUEUE_MOVE, "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.capture=dual_write", ("migration-queue-tokens-kept",),
        ("drop",),
        "Writing each change of the line to the new store by a request of its own loses it with the "
        "request; the commit log keeps it until it is applied.", "9",
        setting=(*_QUEUE_MOVE, "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.verify=false", ("migration-queue-tokens-kept",),
        ("drop",),
        "Comparing the stores before the cutover finds the token rows a lossy copy missed and rolls the "
        "move back; unverified, the new store takes over an incomplete line.", "9",
        setting=(*_QUEUE_MOVE, "migration.acks=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.fence=false", ("migration-queue-tokens-kept",),
        ("drop",),
        "Routers learn of the cutover a moment late; the old store must refuse the tokens they still ask "
        "it for, or it issues them where nobody copies them from (and gives their places again).", "9",
        setting=_QUEUE_MOVE, flows=("sync",),
    ),
    Safeguard(
        "migration.catch_up=false", ("migration-queue-tokens-kept",),
        ("drop",),
        "Handing the line back in a rollback before the new store's changes reached the old one lets the "
        "old store give again places the new one already gave, and its tokens arrive later; waiting for the "
        "copy back closes the gap.", "9",
        setting=(*_QUEUE_MOVE, _ROLLED_BACK), flows=("sync",),
    ),
    # Concert's move (seed 9, third): each row runs Concert's default plan (copy, verify, the
    # projection and its reads cut over at once; catch_up's, a plan that also rolls back) at the
    # queue_split stage, in the sync flow.
    Safeguard(
        "migration.acks=false", ("migration-concert-view-kept",),
        ("drop",),
        "A batch of seat-view changes sent once and lost is a seat the new store shows as it was; it "
        "takes the projection over without it.", "9",
        setting=(*_CONCERT_MOVE, "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.capture=dual_write", ("migration-concert-view-kept",),
        ("drop",),
        "Writing each seat change to the new store by a request of its own loses it with the request, "
        "and requests sent apart may arrive out of order; the commit log ships them in order until "
        "applied.", "9",
        setting=(*_CONCERT_MOVE, "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.verify=false", ("migration-concert-view-kept",),
        ("drop",),
        "Comparing the stores before the cutover finds the seat rows a lossy copy missed and rolls the "
        "move back; unverified, the new store takes over a view missing seat changes.", "9",
        setting=(*_CONCERT_MOVE, "migration.acks=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.fence=false", ("migration-concert-view-kept",),
        ("drop",),
        "Routers learn of the cutover a moment late; the old store, whose view stopped following the "
        "seat events at the switch, must refuse their reads, or it shows seats as they no longer are.",
        "9", setting=_CONCERT_MOVE, flows=("sync",),
    ),
    Safeguard(
        "migration.catch_up=false", ("migration-concert-view-kept",),
        ("drop",),
        "Handing the projection back in a rollback before the new Concert handled every seat event raised "
        "so far leaves an event that nobody applies; waiting for its inputs and the copy back closes "
        "the gap.", "9",
        setting=(*_CONCERT_MOVE, _ROLLED_BACK), flows=("sync",),
    ),
    # Reservation's move (seed 9, last): each row runs Reservation's default plan (copy, verify, its
    # data, calls, sweeper and handlers cut over at once; catch_up's, a plan that also rolls back) at
    # the concert_split stage, in the sync flow.
    Safeguard(
        "migration.acks=false", ("migration-reservation-kept",),
        ("drop",),
        "A batch of Reservation's changes sent once and lost is a hold or a payment the new store never "
        "gets; it takes the data over without it.", "9",
        setting=(*_RESERVATION_MOVE, "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.capture=dual_write", ("migration-reservation-kept",),
        ("drop",),
        "Writing each of Reservation's changes to the new store by a request of its own loses it with the "
        "request; the commit log ships them in order until applied.", "9",
        setting=(*_RESERVATION_MOVE, "migration.verify=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.verify=false", ("migration-reservation-kept",),
        ("drop",),
        "Comparing the stores before the cutover finds the rows a lossy copy missed and rolls the move "
        "back; unverified, the new store takes over without the holds and payments it missed.", "9",
        setting=(*_RESERVATION_MOVE, "migration.acks=false"), flows=("sync",),
    ),
    Safeguard(
        "migration.fence=false", ("migration-reservation-kept",),
        ("drop",),
        "Routers learn of the cutover a moment late, and a payment started before it confirms after it; "
        "the old store, no longer copied, must refuse them, or it holds seats and takes payments nobody "
        "reads again.", "9", setting=_RESERVATION_MOVE, flows=("sync",),
    ),
    Safeguard(
        "migration.catch_up=false", ("migration-reservation-kept",),
        ("drop",),
        "Handing Reservation back in a rollback before the new store's changes reached the old one loses "
        "the holds and payments made meanwhile; waiting for the copy back, the new relay and the new "
        "group closes the gap.", "9",
        setting=(*_RESERVATION_MOVE, _ROLLED_BACK), flows=("sync",),
    ),
)


def ablated(base: Scenario, switch: str, flow: str, setting: Sequence[str] = ()) -> Scenario:
    data = base.model_dump(mode="json")
    return scenario_from_data(data, base.name, [*setting, switch, f"design.payment_flow={flow}"])


@dataclass
class AblationRow:
    safeguard: Safeguard
    flow: str
    exploration: Exploration

    @property
    def broken(self) -> list[str]:
        outcome = self.exploration.outcome
        return outcome.violated if outcome is not None else []

    @property
    def caught(self) -> bool:
        return any(i in self.broken for i in self.safeguard.protects)

    @property
    def never_judged(self) -> list[str]:
        """The invariants the safeguard protects that no example of the search could judge (not
        applicable in every one): its absence could not have shown there."""
        if self.exploration.found:
            return []
        never = self.exploration.never_judged()
        return [i for i in self.safeguard.protects if i in never]

    @property
    def redundant(self) -> bool:
        """Whether the design keeps this promise in this flow without the safeguard."""
        return self.flow in self.safeguard.redundant_in

    @property
    def as_expected(self) -> bool:
        """Caught where the safeguard is needed, and not where it is documented redundant."""
        return self.caught != self.redundant

    @property
    def faults_in_minimal(self) -> int | None:
        example = self.exploration.counterexample
        return None if example is None else len(example.faults)

    @property
    def counterexample_file(self) -> str:
        """The name ``concertsim ablate`` gives this cell's counterexample file beside its report,
        e.g. ``counterexample-compensation-false-sync.yaml``."""
        switch = self.safeguard.name.removeprefix("design.").replace("=", "-").replace("@", "-")
        return f"counterexample-{switch}-{self.flow}.yaml"


def ablate(
    base: Scenario,
    *,
    flows: Sequence[str] = ("sync", "choreography"),
    safeguards: Sequence[Safeguard] = SAFEGUARDS,
    examples: int = 200,
    seed: int = 0,
    on_row: Callable[[AblationRow], None] | None = None,
    on_skip: Callable[[Safeguard, str, str], None] | None = None,
    **explore_options: object,
) -> list[AblationRow]:
    """For each safeguard and flow, explore the design without it for a violation of what it
    protects. A cell the base cannot carry (its setting makes an invalid scenario, e.g. replicas
    at the monolith stage) is passed to ``on_skip`` with the reason, or raises
    :class:`ScenarioError` without one."""
    rows = []
    for safeguard in safeguards:
        for flow in flows:
            if not safeguard.applies_to(flow):
                continue
            try:
                without = ablated(base, safeguard.switch, flow, safeguard.setting)
            except ScenarioError as error:
                if on_skip is None:
                    raise
                on_skip(safeguard, flow, "; ".join(reason for _, reason in error.problems) or str(error))
                continue
            found = explore(
                without,
                examples=examples,
                seed=seed,
                kinds=safeguard.kinds,
                invariants=safeguard.protects,
                **explore_options,  # type: ignore[arg-type]
            )
            row = AblationRow(safeguard, flow, found)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows
