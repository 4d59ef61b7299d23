"""The streamed trace's files: their chunk format, and the JSONL serialization made from them, in
this process or in another one, on another core, while this one goes on.

A spill file holds the records of one kind in length-prefixed chunks: eight bytes of length, then
a ``marshal`` of five columns (numbers, times, parties, trace ids, data). The records a trace kept
in memory, written out for a serialization, are one more file of six columns, their kinds after
the times. A :class:`Part` names a file and the kind of its records (None for that one).

:func:`serialize` merges the parts back into trace order and writes the JSONL serialization,
hashing it on the way. :class:`BackgroundSerialization` runs the same function in a fresh Python
(this module's :func:`_main`, the parts as its argument, the digest on its standard output),
so the bytes and the hash are the same wherever they were made. A fresh interpreter rather than a
fork: it shares nothing with the parent (no copy of its heap, no lock held by a thread of its),
and it starts the same way on every platform.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import json
import marshal
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import starmap
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from concertsim.parent_death import end_with_parent
from concertsim.sim.infrastructure.trace import SEQ, TraceRecord, encoded, record_to_json

__all__ = ["Part", "Row", "KeptRow", "HEADER", "write_chunk", "read_chunks", "serialize", "BackgroundSerialization"]

Row = tuple[int, float, str, "str | None", dict[str, Any]]
"""A spilled record without its kind (the file's): number, time, party, trace id, data."""
KeptRow = tuple[int, float, str, str, "str | None", dict[str, Any]]
"""A record with its kind, in :class:`TraceRecord`'s order: number, time, kind, party, trace id, data."""


class Part(NamedTuple):
    """A file of records of ``kind`` in chunks, or (``kind`` None) of several kinds, each chunk
    with a column of kinds after the times (:data:`KeptRow`)."""

    kind: str | None
    path: str


HEADER = 8
"""Bytes of a chunk's length, before its ``marshal``."""


def write_chunk(out: BinaryIO, rows: Sequence[Row] | Sequence[KeptRow]) -> int:
    """Append ``rows`` to ``out`` as one chunk; the bytes written (its :data:`HEADER` and ``marshal``).

    By column (a tuple a field, not a tuple a record): read back, a chunk is then a handful of
    objects the cyclic garbage collector tracks, not thousands, and reading a kind sets off no pass of it over
    the whole heap. Length-prefixed: ``marshal.loads`` on whole bytes is many times faster than
    ``marshal.load`` reading a file piece by piece."""
    blob = marshal.dumps(tuple(zip(*rows)))
    out.write(len(blob).to_bytes(HEADER, "little") + blob)
    return HEADER + len(blob)


def read_chunks(kind: str | None, spilled: BinaryIO, chunks: int | None = None) -> Iterator[TraceRecord]:
    """The records of ``kind`` (None: of the kinds in each chunk) in ``spilled``'s chunks from
    where it stands: all of them, or the next ``chunks``."""
    while (chunks is None or (chunks := chunks - 1) >= 0) and (size := spilled.read(HEADER)):
        columns = marshal.loads(spilled.read(int.from_bytes(size, "little")))
        if kind is None:
            yield from starmap(TraceRecord, zip(*columns))
        else:
            for seq, at, party, trace_id, data in zip(*columns):
                yield TraceRecord(seq, at, kind, party, trace_id, data)


def _records(part: Part) -> Iterator[TraceRecord]:
    with open(part.path, "rb") as spilled:
        yield from read_chunks(part.kind, spilled)


def serialize(parts: Iterable[Part], out: Path) -> str:
    """Write the records of ``parts``, merged into trace order, to ``out`` as JSONL; their SHA-256.

    Each record is let go once its line is made: a batch of records held would be promoted by the
    cyclic collector, and its passes over the whole heap would follow."""
    digest = hashlib.sha256()
    with out.open("wb") as written:
        for serialized in encoded(map(record_to_json, heapq.merge(*map(_records, parts), key=SEQ))):
            digest.update(serialized)
            written.write(serialized)
    return digest.hexdigest()


class BackgroundSerialization:
    """:func:`serialize` running in another process from the moment this is made.

    :meth:`digest` waits for it: the SHA-256, or None if it failed, was stopped or could not start
    (whoever asked then serializes in its own process: a failure here costs time, never a result).
    :meth:`stop` ends it and waits, so that its files may be removed.
    """

    def __init__(self, parts: Sequence[Part], out: Path) -> None:
        self.error: str | None = None
        """Why :meth:`digest` is None (the process's last words, or why it could not start)."""
        self._process: subprocess.Popen[bytes] | None = None
        self._digest: str | None = None
        request = json.dumps({"parts": [list(part) for part in parts], "out": str(out)})
        try:
            self._process = subprocess.Popen(
                _command(request), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except OSError as error:  # no interpreter to start (an embedded Python), no processes left
            self.error = f"could not start: {error}"
            self.stop()

    @property
    def running(self) -> bool:
        """Whether the process is still at work (not yet waited for by :meth:`digest` or :meth:`stop`)."""
        return self._process is not None and self._process.poll() is None

    def digest(self) -> str | None:
        """The SHA-256 of the serialization (waiting for it), or None (see :attr:`error`)."""
        process = self._process
        if process is not None:
            self._process = None
            output, errors = process.communicate()
            words = output.decode("ascii", "replace").split()
            if process.returncode == 0 and len(words) == 1 and _is_digest(words[0]):
                self._digest = words[0]
            else:
                self.error = f"exit {process.returncode}: {errors.decode('utf-8', 'replace').strip()[-2000:]}"
        return self._digest

    def stop(self) -> None:
        """End the process if it is still running, and wait for it."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.communicate()
            self.error = self.error or "stopped"


def _is_digest(word: str) -> bool:
    return len(word) == 64 and all(character in "0123456789abcdef" for character in word)


_PACKAGE_ROOT = str(Path(__file__).parents[3])
"""Where the ``concertsim`` this module belongs to was imported from (a checkout, site-packages)."""

_CHILD = (
    "import sys; root = sys.argv[1]; root in sys.path or sys.path.insert(0, root); "
    f"from {__name__} import _main; _main()"
)
"""The child's program. Isolated (``-I``: neither the working folder nor ``PYTHONPATH`` on its
path), with the parent's package root first unless already on it, so that the child runs this very
code however concertsim was installed, and never a ``concertsim`` folder it happens to start in."""


def _command(request: str) -> list[str]:
    return [sys.executable, "-I", "-c", _CHILD, _PACKAGE_ROOT, str(os.getpid()), request]


def _main() -> None:
    """The child: its parent's process id and the request as its last arguments, the digest on
    standard output."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it: a Ctrl-C is the parent's to handle
    end_with_parent(int(sys.argv[-2]))  # and a parent killed outright, which cannot, ends it too
    gc.disable()  # it makes no cycles, and a pass over a million records costs as much as their lines
    request = json.loads(sys.argv[-1])
    digest = serialize((Part(*part) for part in request["parts"]), Path(request["out"]))
    sys.stdout.write(digest + "\n")
