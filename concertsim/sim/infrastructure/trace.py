"""The trace: every call, commit, publish, delivery, state change and fault of a run, in order.

Records are cheap ``__slots__`` objects appended on the hot path; they are serialized only when the
run is over (JSONL, one record a line, keys sorted). The run's fingerprint is the SHA-256 of that
serialization, so two runs with the same (scenario, seed) give the same hash in any process.

Everything that reads a finished trace goes through :class:`Trace`'s reading interface (iteration
in order, ``of_kind``, ``by_kind``, ``lookup``, ``len``), never a list of records, so a trace that
keeps part of itself on disk (:class:`~concertsim.sim.infrastructure.spilled_trace.SpillingTrace`) reads the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from operator import attrgetter
from typing import Any, BinaryIO, Literal, get_args

__all__ = ["TraceRecord", "Trace", "record_to_json", "TraceMode", "TRACE_MODES", "HASHED_TOGETHER", "SEQ", "encoded"]

TraceMode = Literal["memory", "stream"]
TRACE_MODES: tuple[str, ...] = get_args(TraceMode)
"""``memory`` keeps every record in memory; ``stream`` spills the high-volume kinds to disk as they
happen (:mod:`concertsim.sim.infrastructure.spilled_trace`). Both give the same records, hash and verdicts."""


HASHED_TOGETHER = 4096
"""Lines of the serialization joined, encoded and hashed (or written) at once: per line, those calls
cost as much as the line's JSON."""


class TraceRecord:
    """One thing that happened.

    ``kind`` is a dotted name (``call.send``, ``tx.commit``, ``broker.publish``, ``fault.start``,
    ...); ``party`` is who did it (a service, ``broker``, ``relay:point``, ``client``); ``trace_id``
    groups the records of one client operation and everything it caused; ``data`` holds the facts,
    JSON-serializable values only.
    """

    __slots__ = ("seq", "at", "kind", "party", "trace_id", "data")

    def __init__(
        self, seq: int, at: float, kind: str, party: str, trace_id: str | None, data: dict[str, Any]
    ) -> None:
        self.seq = seq
        self.at = at
        self.kind = kind
        self.party = party
        self.trace_id = trace_id
        self.data = data

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "party": self.party,
            "trace_id": self.trace_id,
            "data": self.data,
        }

    def __repr__(self) -> str:
        return f"TraceRecord({self.seq}, t={self.at:.4f}, {self.kind}, {self.party}, {self.data})"


SEQ = attrgetter("seq")
"""A record's number: the key that keeps records in trace order (sorts and merges)."""

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # CPython's, from _json
_DATA_ENCODER = (
    _C_ENCODER(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True)
    if _C_ENCODER is not None else None
)
"""``_ENCODER``'s C encoder, made once instead of at every ``encode`` (where it costs as much as
encoding a record's data); None where the interpreter has none. No check for cycles: a record's
data is a tree of JSON values."""
_quoted = json.encoder.encode_basestring_ascii


def record_to_json(record: TraceRecord) -> str:
    """``record`` as one JSON object, keys sorted, no spaces: byte for byte
    ``_ENCODER.encode(record.to_json())``, written out field by field because this is the cost of
    every run's hash (a few microseconds a record, millions of records in a large run)."""
    at, trace_id = record.at, record.trace_id
    if _DATA_ENCODER is None or type(at) not in (int, float) or at - at != 0:  # no C encoder, or not a finite number
        return _ENCODER.encode(record.to_json())
    return (f'{{"at":{at!r},"data":{"".join(_DATA_ENCODER(record.data, 0))},"kind":{_quoted(record.kind)},'
            f'"party":{_quoted(record.party)},"seq":{record.seq},'
            f'"trace_id":{"null" if trace_id is None else _quoted(trace_id)}}}')


def encoded(lines: Iterable[str]) -> Iterator[bytes]:
    """``lines`` as the serialization's bytes (UTF-8, a newline after each), :data:`HASHED_TOGETHER`
    lines at a time; only the lines of one batch are held, never what they were made from."""
    remaining = iter(lines)
    while batch := list(islice(remaining, HASHED_TOGETHER)):
        yield ("\n".join(batch) + "\n").encode("utf-8")


class Trace:
    """An append-only list of :class:`TraceRecord`, numbered from 0, kept in memory."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self._lines: list[str] | None = None
        self._forget_kinds()

    def _forget_kinds(self) -> None:
        self._kinds: dict[str, list[TraceRecord]] = {}
        """kind -> its records in ``records``, in order: the index of :meth:`kept_of_kinds`."""
        self._kinds_taken = 0
        """How many of ``records`` the index has taken in,"""
        self._kinds_last: TraceRecord | None = None
        """and the last of them: while records are only added, ``records[_kinds_taken - 1]``."""

    def __getstate__(self) -> dict[str, Any]:
        """A copy (or a pickle) leaves the index behind: whoever reads the copy builds its own."""
        state = self.__dict__.copy()
        state.update(_kinds={}, _kinds_taken=0, _kinds_last=None)
        return state

    def add(self, at: float, kind: str, party: str, trace_id: str | None, data: dict[str, Any]) -> None:
        """Append a record numbered after the last one."""
        self.records.append(TraceRecord(len(self.records), at, kind, party, trace_id, data))

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def of_kind(self, *kinds: str) -> Iterable[TraceRecord]:
        """The records of ``kinds``, in trace order."""
        return iter(self.kept_of_kinds(kinds))

    def kept_of_kinds(self, kinds: Iterable[str]) -> list[TraceRecord]:
        """The records of ``kinds`` among ``records`` (those in memory), in trace order: a fresh
        list the caller may keep. The checks and probes ask for a few kinds each, dozens of times
        a run, so the records are indexed by kind on the first ask (and the index brought up to
        date with any added since) instead of scanned at every one. A record is a fact: once
        added, its kind is never changed."""
        records, taken = self.records, self._kinds_taken
        if taken and (taken > len(records) or records[taken - 1] is not self._kinds_last):
            self._forget_kinds()  # not only added to (a test planting a defect): index them afresh
            taken = 0
        index = self._kinds
        if taken < len(records):
            for record in records[taken:]:
                same = index.get(record.kind)
                if same is None:
                    same = index[record.kind] = []
                same.append(record)
            self._kinds_taken, self._kinds_last = len(records), records[-1]
        found = [index[kind] for kind in frozenset(kinds) if kind in index]
        if len(found) == 1:
            return list(found[0])
        return sorted(chain.from_iterable(found), key=SEQ)  # merges the sorted runs

    def by_kind(self) -> Mapping[str, Iterable[TraceRecord]]:
        """kind -> that kind's records in trace order (each re-iterable, with a ``len``)."""
        self.kept_of_kinds(())
        return {kind: list(records) for kind, records in self._kinds.items()}

    def lookup(self, seqs: Iterable[int]) -> dict[int, TraceRecord]:
        """The records numbered ``seqs`` (numbers outside the trace are left out)."""
        return {seq: self.records[seq] for seq in seqs if 0 <= seq < len(self.records)}

    def finish(self) -> None:
        """The run that writes the trace is over; nothing will be added (nothing to do, here)."""

    def close(self) -> None:
        """Release what the trace holds outside memory (nothing, here)."""

    def lines(self) -> Iterable[str]:
        """The JSONL serialization, one line per record (computed once, after the run)."""
        if self._lines is None or len(self._lines) != len(self.records):
            self._lines = [record_to_json(r) for r in self.records]
        return self._lines

    def write_jsonl(self, out: BinaryIO) -> None:
        """Write the JSONL serialization (UTF-8, a newline after each line) to ``out``."""
        for serialized in encoded(self.lines()):
            out.write(serialized)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for serialized in encoded(self.lines()):
            digest.update(serialized)
        return digest.hexdigest()
