"""Events lost, drawn where they were lost: one lane per place (a service's publish to the broker,
a consumer group that gave up on it, the broker's delivery) and event type, one mark per event at
the moment it was lost, under the lanes of the faults active then."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from matplotlib.figure import Figure

from concertsim.reports.plotting.base import FAULT_COLOUR, Omitted, time_figure
from concertsim.sim.run.result import RunResult

__all__ = ["LostEvent", "lost_events", "lost_events_figure"]

_WHERE = {
    "publish.dropped": "publish to broker lost",
    "broker.delivery_lost": "delivery lost",
    "consumer.dropped": "dropped after retries",
}


@dataclass(frozen=True)
class LostEvent:
    """An event that some subscribing group never processed and that is not parked either."""

    event_id: str
    type: str
    at: float
    """When it was lost (or raised, if no record says where it went missing)."""
    party: str
    """Who lost it: the publishing service, or the consumer group."""
    where: str
    groups: tuple[str, ...]


def lost_events(result: RunResult) -> list[LostEvent]:
    """Each event not processed by every subscribing group nor parked for it, in raise order, with
    the first record that shows where it went missing."""
    raised: dict[str, tuple[float, str, str, bool]] = {}
    processed: set[tuple[str, str]] = set()
    lost_at: dict[str, tuple[float, str, str]] = {}
    for record in result.trace.of_kind("event.raised", "consumer.handled", "consumer.duplicate_skipped", *_WHERE):
        data = record.data
        if record.kind == "event.raised":
            raised[data["event_id"]] = (record.at, data["type"], record.party, not data.get("in_process", False))
        elif record.kind in ("consumer.handled", "consumer.duplicate_skipped"):
            processed.add((data["group"], data["event_id"]))
        elif record.kind in _WHERE and data.get("event_id") not in lost_at:
            party = data.get("group") or record.party
            lost_at[data["event_id"]] = (record.at, str(party), _WHERE[record.kind])
    parked = {(letter.group, letter.event.event_id) for letter in result.dead_letters}
    found = []
    for event_id, (at, event_type, publisher, published) in raised.items():
        missing = tuple(
            group for group in result.subscribers(event_type, publisher, published)
            if (group, event_id) not in processed and (group, event_id) not in parked
        )
        if missing:
            when, party, where = lost_at.get(event_id, (at, publisher, "never delivered"))
            found.append(LostEvent(event_id, event_type, when, party, where, missing))
    return found


def lost_events_figure(result: RunResult) -> Figure | Omitted:
    """One lane per (who lost it, how, event type), a mark per lost event."""
    lost = lost_events(result)
    if not lost:
        return Omitted("no event was lost")
    lanes: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for event in lost:
        lanes[(event.party, event.where, event.type.removesuffix("Event"))].append(event.at)
    order = sorted(lanes, key=lambda lane: (lane[0], lane[1], lane[2]))
    title = f"Events lost: {len(lost):,} never reached every subscriber"
    figure, axes = time_figure(result, title, 0.5 + 0.42 * len(order))
    for row, lane in enumerate(order):
        times = lanes[lane]
        axes.plot(times, [row] * len(times), linestyle="none", marker="x", color=FAULT_COLOUR, markersize=6)
    axes.set_yticks(range(len(order)), [f"{party}: {where}, {kind} ({len(lanes[(party, where, kind)]):,})"
                                        for party, where, kind in order], fontsize=8)
    axes.set_ylim(len(order) - 0.5, -0.5)
    axes.grid(True, axis="x", alpha=0.3)
    return figure
