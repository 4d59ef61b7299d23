"""Which saga the run report draws end to end, and why.

A run that broke a promise draws the saga of its first violation (one the design's difference from
the default explains first). A run that kept its promises draws the saga most worth a look, not
merely the first: one a fault struck (a message of it lost, delayed, duplicated or refused), else
one in flight when a service it used crashed, that went on after the crash, else one whose client
never learned the outcome, else the slowest. Among several of a kind, the longest is drawn. The
reason goes into the figure's caption.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from concertsim.models import reservations
from concertsim.reports.document.formatting import seconds
from concertsim.reports.run.design_switches import explained_first
from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.infrastructure.trace import Trace
from concertsim.sim.run.result import RunResult

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["FeaturedSaga", "featured", "featured_saga"]

_LOSSES = {
    "call.request_lost": "a request of it was lost",
    "call.reply_lost": "a reply to it was lost",
    "call.late_reply": "a reply to it came after its caller gave up",
    "call.refused": "a service it called was down and refused",
    "publish.dropped": "the publish of one of its events was lost",
    "broker.delivery_lost": "a delivery of one of its events was lost",
}
_STRIKE_WORDS = {"drop": "lost", "duplicate": "duplicated", "delay": "delayed", "reorder": "held back"}
_CRASHES = ("host.crash", "daemon.crash")


@dataclass(frozen=True)
class FeaturedSaga:
    """The saga a report draws end to end: ``reservation_id`` and ``reason``, a sentence that
    begins "Drawn because"."""

    reservation_id: str
    reason: str


def _first_violation_saga(outcome: RunOutcome) -> FeaturedSaga | None:
    trace = outcome.result.trace
    for verdict in explained_first(outcome.verdicts, outcome.result.scenario.design):
        for violation in verdict.violations:
            found = violation.saga
            if not found:
                looked_up = trace.lookup(violation.records)
                for seq in violation.records:
                    payload = looked_up[seq].data.get("payload") if seq in looked_up else None
                    if isinstance(payload, dict) and isinstance(payload.get("reservation_id"), str):
                        found = payload["reservation_id"]
                        break
            if found:
                return FeaturedSaga(found, f"Drawn because it shows the first violation of "
                                           f"{verdict.invariant.id}.")
    return None


_CHOSEN: weakref.WeakKeyDictionary[Trace, tuple[int, FeaturedSaga | None]] = weakref.WeakKeyDictionary()
""":func:`_interest` of each run under its trace, with the trace's length then: a report asks three
times (the hero figure, the saga section, the flow's caption), and on a large run each answer reads
millions of records."""


def _interest(result: RunResult) -> FeaturedSaga | None:
    """The most interesting saga of a run (computed once per run)."""
    length, chosen = _CHOSEN.get(result.trace, (-1, None))
    if length != len(result.trace):
        chosen = _most_interesting(result)
        _CHOSEN[result.trace] = (len(result.trace), chosen)
    return chosen


def _most_interesting(result: RunResult) -> FeaturedSaga | None:
    """The most interesting saga of a run, read in one pass over the few record kinds it needs."""
    spans: dict[str, list[float]] = {}
    for booked in result.table("reservation", reservations.RESERVATIONS).values():
        ends = [at for at in (booked.confirmed_at, booked.ended_at) if at is not None]
        spans[booked.reservation_id] = [booked.held_at, max([booked.held_at, *ends])]
    op_saga: dict[str, str] = {}
    unknown: dict[str, str] = {}
    for op in result.history:
        reservation_id = op.detail.get("reservation_id")
        if not isinstance(reservation_id, str):
            continue
        op_saga[op.op_id] = reservation_id
        end = op.complete_at if op.complete_at is not None else op.invoke_at
        span = spans.setdefault(reservation_id, [op.invoke_at, end])
        span[0], span[1] = min(span[0], op.invoke_at), max(span[1], end)
        if op.outcome == "unknown" and reservation_id not in unknown:
            unknown[reservation_id] = op.action
    if not spans:
        return None
    trace = result.trace
    event_saga: dict[str, str] = {}
    for r in trace.of_kind("event.raised"):
        reservation_id = r.data["payload"].get("reservation_id")
        if isinstance(reservation_id, str):
            event_saga[r.data["event_id"]] = reservation_id

    def saga_of_record(record) -> str | None:
        found = op_saga.get(record.trace_id) if record.trace_id else None
        return found or event_saga.get(record.data.get("event_id", ""))

    struck: dict[str, str] = {}
    touched: dict[str, set[str]] = defaultdict(set)
    messages: dict[tuple[float, str, str], str] = {}
    for r in trace.of_kind("call.send", "call.serve", "broker.append", "broker.deliver", *_LOSSES):
        reservation_id = saga_of_record(r)
        if reservation_id is None:
            continue
        if r.kind in _LOSSES:
            struck.setdefault(reservation_id, _LOSSES[r.kind])
        elif r.kind == "call.send":
            touched[reservation_id].update((service_of(r.party), service_of(r.data["to"])))
            messages[(r.at, r.party, r.data["endpoint"])] = reservation_id
        elif r.kind == "call.serve":
            messages[(r.at, r.party, r.data["endpoint"])] = reservation_id
        else:
            messages[(r.at, r.party, r.data["type"])] = reservation_id
            touched[reservation_id].add(service_of(r.data.get("group") or r.party))
    for r in trace.of_kind("fault.strike"):
        d = r.data
        reservation_id = messages.get((r.at, str(d.get("source")), str(d.get("message_type"))))
        if reservation_id is not None:
            words = _STRIKE_WORDS.get(str(d["kind"]), str(d["kind"]))
            struck.setdefault(reservation_id, f"a fault {words} its {d['message_type']} ({d['channel']})")
    crashed: dict[str, str] = {}
    for r in trace.of_kind(*_CRASHES):
        service = service_of(r.party.split(":")[-1])
        for reservation_id, (start, end) in spans.items():
            if start < r.at < end and service in touched.get(reservation_id, ()) and reservation_id not in crashed:
                crashed[reservation_id] = f"it was in flight when {r.party} crashed at {seconds(r.at)}, and went on"

    def longest(candidates: dict[str, str]) -> tuple[str, str] | None:
        if not candidates:
            return None
        chosen = min(candidates, key=lambda rid: (spans[rid][0] - spans[rid][1], rid))
        return chosen, candidates[chosen]

    for kind, candidates in (("struck", struck), ("crash", crashed), ("unknown", unknown)):
        found = longest({rid: why for rid, why in candidates.items() if rid in spans})
        if found is None:
            continue
        reservation_id, why = found
        if kind == "unknown":
            why = f"its client never learned how its {why} ended (outcome unknown)"
        others = len(candidates) - 1
        among = f"; the longest of {others + 1} such sagas" if others else ""
        return FeaturedSaga(reservation_id, f"Drawn because {why}{among}.")
    reservation_id, _ = longest({rid: "" for rid in spans})  # type: ignore[misc]
    took = spans[reservation_id][1] - spans[reservation_id][0]
    return FeaturedSaga(reservation_id, f"Drawn because it is the slowest saga of the run ({seconds(took)} from its "
                                        "hold to its last answer or end): no fault struck a saga, none was in flight through a "
                                        "crash, and every client learned its outcome.")


def featured(outcome: RunOutcome) -> FeaturedSaga | None:
    """The saga a report draws end to end and why: that of the first violation of a promise the
    design's difference from the default explains (else of the first violation); for a run that
    kept its promises, the most interesting saga (see the module's docstring); for a run without
    client operations about a reservation, the first reservation booked."""
    chosen = _first_violation_saga(outcome) or _interest(outcome.result)
    if chosen is not None:
        return chosen
    booked = outcome.result.table("reservation", reservations.RESERVATIONS)
    first = min(booked, default=None)
    return FeaturedSaga(first, "Drawn because it is the first reservation of the run.") if first else None


def featured_saga(outcome: RunOutcome) -> str | None:
    """The reservation id of :func:`featured`."""
    chosen = featured(outcome)
    return chosen.reservation_id if chosen is not None else None
