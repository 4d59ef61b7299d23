"""A trace that writes its high-volume records to disk as they happen (``--trace-mode stream``).

Nine in ten records of a run are calls, transactions and client operations (``call.*``, ``tx.*``,
``client.*``, ``relay.marked``: :data:`SPILLED_KINDS`). The checks read them
only kind by kind, so a :class:`SpillingTrace` keeps them out of memory: each is appended to its
kind's spill file in chunks of :data:`CHUNK` records (``marshal``, which reads back about ten times
faster than JSON, a chunk by column) and read back whenever a reader asks for that kind. Every other kind stays in
memory, as in :class:`~concertsim.sim.infrastructure.trace.Trace`.

Reading is the same interface: iteration and ``of_kind`` merge the kinds back into trace order by
sequence number, so checks, metrics, reports and the JSONL file (and with it the run's SHA-256) are
identical to an in-memory run's. What it costs is time: each read of a spilled kind reads its file
again (measured in ``bench/bench_messages.py --trace-mode stream``), except ``lookup``, which reads
only the chunks that hold the records asked for. A large trace is serialized and hashed in another
process while the run is read (:meth:`SpillingTrace.finish`, :mod:`~concertsim.sim.infrastructure.spill_files`).

The spill files live in a private temporary folder (under ``TMPDIR``) that
:meth:`SpillingTrace.close` (or the trace's collection) removes; one left by a process killed
outright is removed by the next streamed trace made there (:mod:`~concertsim.sim.infrastructure.spill_folders`). A failure to write or read them
(a full disk, a read-only folder) is a :class:`TraceSpillError` naming the folder and the reason.
"""

from __future__ import annotations

import bisect
import heapq
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping, Set as AbstractSet
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from concertsim.sim.infrastructure.collection import rare_collection
from concertsim.sim.infrastructure.spill_files import (
    BackgroundSerialization, KeptRow, Part, Row, read_chunks, serialize, write_chunk,
)
from concertsim.sim.infrastructure.spill_folders import SpillFolder
from concertsim.sim.infrastructure.trace import SEQ, Trace, TraceRecord

__all__ = ["SpillingTrace", "TraceSpillError", "SPILLED_KINDS", "CHUNK"]

SPILLED_KINDS = frozenset({
    "call.send", "call.serve", "call.return", "call.late_reply", "tx.commit", "tx.conflict",
    "client.invoke", "client.ok", "client.fail", "client.unknown", "relay.marked",
})
"""The kinds kept on disk: calls, transactions and client operations, nine in ten records of a flash
crowd (96% of an overloaded one's)."""

CHUNK = 4096
"""Records of one kind buffered in memory before they are written out together."""

SERIALIZED_AHEAD_FROM = 200_000
"""Records from which a finished trace is serialized in another process while this one reads it
(:meth:`SpillingTrace.finish`): below, starting a Python costs more than it saves."""


class TraceSpillError(Exception):
    """The streamed trace's files could not be written or read: ``folder`` and the reason."""

    def __init__(self, folder: Path | str, error: OSError) -> None:
        self.folder, self.reason = folder, error.strerror or str(error)
        super().__init__(
            f"cannot keep the streamed trace in {folder} ({self.reason}); free space there, or point "
            "TMPDIR at a disk with room"
        )


@contextmanager
def _spilling(folder: Path | str) -> Iterator[None]:
    """Raise any ``OSError`` inside as :class:`TraceSpillError` about ``folder``."""
    try:
        yield
    except OSError as error:
        raise TraceSpillError(folder, error) from None


class _SpillFile:
    """One kind's records on disk, appended in chunks; readable any number of times, whole or
    (:meth:`find`) only the chunks that hold the records asked for."""

    def __init__(self, kind: str, path: Path) -> None:
        self.kind = kind
        self.path = path
        self.pending: list[Row] = []
        self.count = 0
        self._out: BinaryIO | None = None
        self._chunks: list[tuple[int, int, int]] = []
        """(first seq, last seq, offset) of each chunk written"""
        self._written = 0

    def append(self, row: Row) -> None:
        self.pending.append(row)
        self.count += 1
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with _spilling(self.path.parent):
            if self._out is None:
                self._out = self.path.open("ab", buffering=0)  # unbuffered: a failed write leaves nothing to flush
            written = write_chunk(self._out, self.pending)
        self._chunks.append((self.pending[0][0], self.pending[-1][0], self._written))
        self._written += written
        self.pending = []

    def part(self) -> Part:
        """The file as it stands, everything buffered written out first."""
        self.flush()
        return Part(self.kind, str(self.path))

    def close(self) -> None:
        if self._out is not None:
            try:
                self._out.close()
            except OSError:
                pass  # being removed: what it could not write no longer matters
            self._out = None

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[TraceRecord]:
        self.flush()
        if self.path.exists():
            with self.path.open("rb") as spilled:
                yield from read_chunks(self.kind, spilled)

    def find(self, wanted: AbstractSet[int]) -> Iterator[TraceRecord]:
        """The records numbered in ``wanted``, reading only the chunks whose numbers span one of
        them: the few records a report shows of a run of millions cost a few chunks, not the file."""
        kind, ordered = self.kind, sorted(wanted)
        chunks = [offset for first, last, offset in self._chunks
                  if (at := bisect.bisect_left(ordered, first)) < len(ordered) and ordered[at] <= last]
        if chunks:
            with _spilling(self.path.parent), self.path.open("rb") as spilled:
                for offset in chunks:
                    spilled.seek(offset)
                    yield from (record for record in read_chunks(kind, spilled, 1) if record.seq in wanted)
        for seq, when, party, trace_id, data in self.pending:
            if seq in wanted:
                yield TraceRecord(seq, when, kind, party, trace_id, data)


class _KeptRecords:
    """The in-memory records of one kind, as a view with a ``len`` (for :meth:`SpillingTrace.by_kind`)."""

    def __init__(self, records: list[TraceRecord]) -> None:
        self._records = records

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


class SpillingTrace(Trace):
    """A :class:`~concertsim.sim.infrastructure.trace.Trace` whose :data:`SPILLED_KINDS` live on disk.

    ``directory`` is where the spill folder is made (the system's temporary folder by default).
    """

    def __init__(self, directory: Path | None = None, spilled: frozenset[str] = SPILLED_KINDS) -> None:
        super().__init__()
        self._spilled_kinds = spilled
        with _spilling(directory or tempfile.gettempdir()):
            spill_folder = SpillFolder(directory)
        self._folder = spill_folder.path
        self._files: dict[str, _SpillFile] = {}
        self._count = 0
        self._digest: tuple[int, str] | None = None
        """(records covered, their SHA-256): the serialization written for the trace as it was then"""
        self._background: list[tuple[int, BackgroundSerialization]] = []
        """(records covered, the process serializing them): at most one, the latest"""
        self._finalizer = weakref.finalize(self, _remove, spill_folder, self._files, self._background)

    @property
    def folder(self) -> Path:
        """Where the spill files are (gone after :meth:`close`)."""
        return self._folder

    def add(self, at: float, kind: str, party: str, trace_id: str | None, data: dict[str, Any]) -> None:
        seq = self._count
        self._count = seq + 1
        if kind in self._spilled_kinds:
            spill = self._files.get(kind)
            if spill is None:
                spill = self._files[kind] = _SpillFile(kind, self._folder / f"{kind}.marshal")
            spill.append((seq, at, party, trace_id, data))
        else:
            self.records.append(TraceRecord(seq, at, kind, party, trace_id, data))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[TraceRecord]:
        return heapq.merge(self.records, *self._files.values(), key=SEQ)

    def of_kind(self, *kinds: str) -> Iterable[TraceRecord]:
        """The records of ``kinds``, in trace order (spilled kinds read back from disk)."""
        wanted = frozenset(kinds)
        spilled = [self._files[kind] for kind in sorted(wanted) if kind in self._files]
        if wanted <= self._spilled_kinds:  # none of them in memory
            if len(spilled) <= 1:
                return spilled[0] if spilled else ()  # nothing to merge: a merge costs a microsecond a record
            return heapq.merge(*spilled, key=SEQ)
        kept = self.kept_of_kinds(wanted)
        return heapq.merge(kept, *spilled, key=SEQ) if spilled else iter(kept)

    def by_kind(self) -> Mapping[str, Iterable[TraceRecord]]:
        grouped: dict[str, Any] = {kind: _KeptRecords(records) for kind, records in super().by_kind().items()}
        grouped.update(self._files)
        return grouped

    def lookup(self, seqs: Iterable[int]) -> dict[int, TraceRecord]:
        wanted = set(seqs)
        found: dict[int, TraceRecord] = {}
        kept = self.records  # in trace order: each wanted record found by bisection, not by a scan
        for seq in wanted:
            at = bisect.bisect_left(kept, seq, key=SEQ)
            if at < len(kept) and kept[at].seq == seq:
                found[seq] = kept[at]
        if len(found) < len(wanted):
            missing = wanted - found.keys()
            for spill in self._files.values():
                found.update((r.seq, r) for r in spill.find(missing))
        return found

    def _parts(self) -> list[Part]:
        """The whole trace as files: each spilled kind's, and the records kept in memory written
        out afresh (by chunks of :data:`CHUNK`, every kind together)."""
        kept = self._folder / "kept.marshal"
        with _spilling(self._folder), kept.open("wb") as out:
            for start in range(0, len(self.records), CHUNK):
                rows: list[KeptRow] = [(r.seq, r.at, r.kind, r.party, r.trace_id, r.data)
                                       for r in self.records[start:start + CHUNK]]
                write_chunk(out, rows)
        return [Part(None, str(kept)), *(spill.part() for spill in self._files.values())]

    def finish(self) -> None:
        """The run is over: a trace of :data:`SERIALIZED_AHEAD_FROM` records or more, on a machine
        with a core to spare, starts :meth:`serialize_in_background`."""
        if self._count >= SERIALIZED_AHEAD_FROM and _usable_cores() > 1:
            self.serialize_in_background()

    def serialize_in_background(self) -> BackgroundSerialization:
        """Start making the JSONL serialization and its hash (:meth:`sha256`) of the trace as it is
        now in another process, on another core, while this one reads the run (its checks and
        metrics take about as long). :meth:`sha256` then waits for it; if it fails, ``sha256``
        serializes in this process, as it does without this."""
        self._stop_background()
        serialization = BackgroundSerialization(self._parts(), self._folder / "trace.jsonl")
        self._background.append((self._count, serialization))
        return serialization

    @property
    def background_serialization(self) -> BackgroundSerialization | None:
        """The process serializing the trace, until :meth:`sha256` has its digest (or None)."""
        return self._background[0][1] if self._background else None

    def _stop_background(self) -> None:
        for _, serialization in self._background:
            serialization.stop()
        self._background.clear()

    @rare_collection()
    def sha256(self) -> str:
        """The SHA-256 of the JSONL serialization, which is written beside the spill files on the
        way, so that :meth:`lines` reads it back instead of serializing every record again."""
        if self._digest is None or self._digest[0] != self._count:
            made = None
            if self._background and self._background[0][0] == self._count:
                made = self._background[0][1].digest()
            self._stop_background()
            if made is None:
                with _spilling(self._folder):
                    made = serialize(self._parts(), self._folder / "trace.jsonl")
            self._digest = (self._count, made)
        return self._digest[1]

    def lines(self) -> Iterator[str]:
        """The JSONL serialization, one line per record, read from disk (nothing is kept)."""
        self.sha256()
        with (self._folder / "trace.jsonl").open(encoding="utf-8") as serialized:
            for line in serialized:
                yield line[:-1]

    def write_jsonl(self, out: BinaryIO) -> None:
        """Copy the JSONL serialization :meth:`sha256` wrote to ``out``, without reading it line by line."""
        self.sha256()
        with _spilling(self._folder), (self._folder / "trace.jsonl").open("rb") as serialized:
            shutil.copyfileobj(serialized, out, 1 << 20)

    def close(self) -> None:
        """Remove the spill files; the trace is empty of its spilled kinds afterwards."""
        self._finalizer()


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _remove(folder: SpillFolder, files: dict[str, _SpillFile], background: list[tuple[int, BackgroundSerialization]]) -> None:
    for _, serialization in background:
        serialization.stop()  # before its files go
    for spill in files.values():
        spill.close()
    files.clear()
    folder.remove()
