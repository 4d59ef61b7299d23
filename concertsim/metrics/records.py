"""The trace records of a run, grouped by kind in one pass, for the metrics to share."""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from concertsim.sim.trace import Trace, TraceRecord

__all__ = ["RecordsByKind", "records_by_kind", "in_trace_order"]

RecordsByKind = dict[str, list[TraceRecord]]
"""kind -> that kind's records, in trace order."""


def records_by_kind(trace: Trace | Iterable[TraceRecord]) -> RecordsByKind:
    """Every record of ``trace`` under its kind, each list in trace order (one pass)."""
    grouped: RecordsByKind = {}
    for record in trace:
        records = grouped.get(record.kind)
        if records is None:
            records = grouped[record.kind] = []
        records.append(record)
    return grouped


_SEQ = attrgetter("seq")


def in_trace_order(records: RecordsByKind, *kinds: str) -> list[TraceRecord]:
    """The records of ``kinds`` merged back into trace order (sorting sorted runs: linear)."""
    merged: list[TraceRecord] = []
    for kind in kinds:
        merged += records.get(kind, ())
    merged.sort(key=_SEQ)
    return merged
