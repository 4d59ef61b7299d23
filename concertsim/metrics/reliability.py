"""Retry and failure rates: of synchronous calls per caller and endpoint, and of event consumers
per group.

A call is one request (``call.send``) and its outcome at the caller (``call.return``: ``ok``,
``timeout``, or the callee's failure code). A *retry* is a request sent again in the same
operation after the previous one got no ``ok``: the same caller, callee, endpoint, trace and
idempotency key. Requests without a trace (the clients' status polls) cannot be linked, so their
retries are not counted. What the network did is counted beside: requests and replies lost,
requests refused by a host that was down, replies that came after the caller had given up, and
calls whose caller crashed before any outcome (``no_outcome``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from concertsim.metrics.records import RecordsByKind
from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.infrastructure.trace import TraceRecord

__all__ = ["call_reliability", "consumer_reliability", "retry_sends"]

_NETWORK_KINDS = (
    ("call.request_lost", "requests_lost"), ("call.reply_lost", "replies_lost"),
    ("call.refused", "refused_down"), ("call.late_reply", "late_replies"),
)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _failed_calls(records: RecordsByKind) -> tuple[dict[str, int], set[str]]:
    """The calls whose caller got no "ok" (call id -> seq of that return), and their traces."""
    failed: dict[str, int] = {}
    troubled_traces: set[str] = set()
    for record in records.get("call.return", ()):
        if record.data["outcome"] != "ok":
            failed[record.data["call"]] = record.seq
            if record.trace_id is not None:
                troubled_traces.add(record.trace_id)
    return failed, troubled_traces


def retry_sends(records: RecordsByKind) -> list[TraceRecord]:
    """The ``call.send`` records that are retries: a request sent again by the same caller to the
    same callee, endpoint, trace and key after the previous one got no "ok"."""
    failed, troubled_traces = _failed_calls(records)
    last_of_chain: dict[tuple[str, str, str, str, str], str] = {}
    found = []
    for record in records.get("call.send", ()):
        if record.trace_id not in troubled_traces:
            continue  # only a call that got no "ok" can be retried: chains are followed in these traces only
        data = record.data
        chain = (record.party, data["to"], data["endpoint"], record.trace_id, data["key"])
        previous = last_of_chain.get(chain)
        if previous in failed and failed[previous] < record.seq:
            found.append(record)
        last_of_chain[chain] = data["call"]
    return found


def call_reliability(
    records: RecordsByKind, retry_records: Sequence[TraceRecord]
) -> dict[str, dict[str, dict[str, Any]]]:
    """caller -> endpoint -> ``callee``, ``calls``, ``ok``, ``timeouts``, ``retries``,
    ``failures`` (code -> count, timeouts included), the network's counts, and ``timeout_rate``,
    ``retry_rate`` and ``failure_rate`` (per call; None for no calls). ``retry_records``:
    :func:`retry_sends` of ``records`` (found once for this table and the series)."""
    outcomes: Counter[tuple[str, str, str]] = Counter()
    for record in records.get("call.return", ()):
        outcomes[service_of(record.party), record.data["endpoint"], record.data["outcome"]] += 1
    noticed = {r.data["call"]: name for kind, name in _NETWORK_KINDS for r in records.get(kind, ())}
    calls: Counter[tuple[str, str]] = Counter()
    callee: dict[tuple[str, str], str] = {}
    network: Counter[tuple[tuple[str, str], str]] = Counter()
    for record in records.get("call.send", ()):
        data = record.data
        address = (service_of(record.party), data["endpoint"])
        calls[address] += 1
        callee[address] = data["to"]
        if data["call"] in noticed:
            network[address, noticed[data["call"]]] += 1
    retries: Counter[tuple[str, str]] = Counter((service_of(r.party), r.data["endpoint"]) for r in retry_records)

    table: dict[str, dict[str, dict[str, Any]]] = {}
    for address in sorted(calls):
        caller, endpoint = address
        count, ok, timeouts = calls[address], outcomes[caller, endpoint, "ok"], outcomes[caller, endpoint, "timeout"]
        failures = {code: n for (c, e, code), n in sorted(outcomes.items())
                    if (c, e) == address and code != "ok"}
        table.setdefault(caller, {})[endpoint] = {
            "callee": callee[address],
            "calls": count,
            "ok": ok,
            "timeouts": timeouts,
            "retries": retries[address],
            "failures": failures,
            **{name: network[address, name] for _, name in _NETWORK_KINDS},
            "no_outcome": count - ok - sum(failures.values()),
            "timeout_rate": _rate(timeouts, count),
            "retry_rate": _rate(retries[address], count),
            "failure_rate": _rate(count - ok, count),
        }
    return table


def consumer_reliability(processing: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """group -> ``deliveries``, ``handling_failures``, ``redeliveries``, ``dead_lettered``,
    ``dropped``, ``redrive_failed``, and the rates: ``failure_rate`` (failed attempts per
    handling attempt), ``redelivery_rate`` (per delivery), ``dead_letter_rate`` (per event
    delivered). ``processing`` is :func:`~concertsim.metrics.event_processing.event_processing`."""
    table = {}
    for group, stats in processing.items():
        attempts = stats["handled"] + stats["duplicates_skipped"] + stats["failures"]
        first_deliveries = stats["deliveries"] - stats["redeliveries"]
        table[group] = {
            "deliveries": stats["deliveries"],
            "handling_failures": stats["failures"],
            "redeliveries": stats["redeliveries"],
            "dead_lettered": stats["dead_lettered"],
            "dropped": stats["dropped"],
            "redrive_failed": stats["redrive_failed"],
            "failure_rate": _rate(stats["failures"], attempts),
            "redelivery_rate": _rate(stats["redeliveries"], stats["deliveries"]),
            "dead_letter_rate": _rate(stats["dead_lettered"], first_deliveries),
        }
    return table
