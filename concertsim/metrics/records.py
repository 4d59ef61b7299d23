"""The trace records of a run, grouped by kind in one pass, for the metrics to share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from concertsim.sim.infrastructure.trace import SEQ, Trace, TraceRecord

__all__ = ["RecordsByKind", "records_by_kind", "in_trace_order"]

RecordsByKind = Mapping[str, Iterable[TraceRecord]]
"""kind -> that kind's records, in trace order: each re-iterable and with a ``len`` (a list, or, for
the kinds a streamed trace keeps on disk, a view that reads them back)."""


def records_by_kind(trace: Trace | Iterable[TraceRecord]) -> RecordsByKind:
    """Every record of ``trace`` under its kind, each in trace order (one pass)."""
    if isinstance(trace, Trace):
        return trace.by_kind()
    grouped: dict[str, list[TraceRecord]] = {}
    for record in trace:
        records = grouped.get(record.kind)
        if records is None:
            records = grouped[record.kind] = []
        records.append(record)
    return grouped


def in_trace_order(records: RecordsByKind, *kinds: str) -> list[TraceRecord]:
    """The records of ``kinds`` merged back into trace order (sorting sorted runs: linear)."""
    merged: list[TraceRecord] = []
    for kind in kinds:
        merged += records.get(kind, ())
    merged.sort(key=SEQ)
    return merged
