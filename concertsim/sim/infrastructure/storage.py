"""Per-service databases: in-memory tables with local, all-or-nothing transactions.

Each service owns one :class:`Database` (seed 8: a database per service). Business tables, the
outbox and the inbox (processed event ids) live in the same database, so "business write + outbox
row" and "handle an event + mark it processed" commit together or not at all (seed 6.2, 4.2.3).

Semantics:

- A :class:`Transaction` buffers its writes; nothing is visible to others until :meth:`Database.commit`
  applies them at one simulated instant, after the commit latency has passed.
- A crash (the committing process is interrupted) or a failed commit discards the buffer; committed
  state is kept. There is no partial write.
- Isolation is optimistic: rows read with ``get_for_update`` remember their version, and a commit
  whose rows changed in between raises :class:`WriteConflict` (the caller re-runs its work).
- Capacity: a commit holds one of the database's ``connections`` for its latency and waits, first
  come first served, when all are taken; so a database commits at most ``connections`` transactions
  per commit latency, and load beyond that shows as connection waits (``connections`` None: as
  many as are asked for).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import simpy

from concertsim.models.events import Event
from concertsim.sim.infrastructure.workers import WorkerPool

__all__ = [
    "DELETED",
    "Database",
    "Transaction",
    "OutboxRow",
    "WriteConflict",
    "CommitFailed",
    "OUTBOX",
    "INBOX",
]

OUTBOX = "outbox"
INBOX = "inbox"

_DELETED = object()
DELETED = _DELETED
"""What a transaction's write of a deleted row holds (a change feed ships it as a deletion)."""



_COPIERS: dict[type, Callable[[Any], Any]] = {}


def copy_row(row: Any) -> Any:
    """A shallow copy of ``row``, as ``copy.copy`` makes it. Rows are mostly slotted dataclasses,
    which ``copy.copy`` copies through ``__reduce_ex__`` at about four times the cost of setting
    their fields on a fresh instance (measured: 5% of a run's time went to copying rows)."""
    copier = _COPIERS.get(type(row))
    if copier is None:
        copier = _COPIERS[type(row)] = _copier_for(type(row))
    return copier(row)


def _copier_for(cls: type) -> Callable[[Any], Any]:
    if not (dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__):
        return copy.copy
    names = tuple(field.name for field in dataclasses.fields(cls))
    if not all(name.isidentifier() for name in names):
        return copy.copy
    # One line per field, compiled once per row class: a loop over the fields cost as much again.
    if cls.__setattr__ is object.__setattr__:
        lines = [f"    clone.{name} = row.{name}" for name in names]
    else:  # a frozen dataclass refuses attribute assignment
        lines = [f"    assign(clone, {name!r}, row.{name})" for name in names]
    source = "def copy_slots(row):\n    clone = new(cls)\n" + "\n".join(lines) + "\n    return clone\n"
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls, "assign": object.__setattr__}
    exec(source, namespace)  # noqa: S102 - the source is built from the dataclass's own field names
    copier: Callable[[Any], Any] = namespace["copy_slots"]
    return copier


class WriteConflict(Exception):
    """Another transaction committed a row this one read for update: ``table`` and ``key`` name
    the first such row (in the order the transaction read them), ``row`` gives its key as text
    for a trace record (the parts of a compound key joined by ``/``)."""

    def __init__(self, database: str, table: str, key: Hashable) -> None:
        super().__init__(database, table, key)  # the args rebuild it when it is copied or pickled
        self.database = database
        self.table = table
        self.key = key

    def __str__(self) -> str:
        return f"{self.database}: {self.table}[{self.key!r}] changed"

    @property
    def row(self) -> str:
        if isinstance(self.key, tuple):
            return "/".join(str(part) for part in self.key)
        return str(self.key)


class CommitFailed(Exception):
    """The database refused the commit (an injected fault); nothing was written."""


@dataclass(slots=True)
class OutboxRow:
    """An event written in the same transaction as the business change that raised it."""

    seq: int
    event: Event
    published: bool = False


class Transaction:
    """A buffer of reads-for-update and writes against one :class:`Database` (a ``Store``)."""

    __slots__ = ("db", "read_versions", "writes", "outbox_events")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.read_versions: dict[tuple[str, Hashable], int] = {}
        self.writes: dict[tuple[str, Hashable], Any] = {}
        self.outbox_events: list[Event] = []

    def get(self, table: str, key: Hashable) -> Any | None:
        if self.writes:
            written = self.writes.get((table, key))
            if written is not None:
                return None if written is _DELETED else written
        rows = self.db.tables.get(table)
        return None if rows is None else rows.get(key)

    def get_many(self, table: str, keys: Iterable[Hashable]) -> list[Any | None]:
        if self.writes:
            return [self.get(table, key) for key in keys]
        rows = self.db.tables.get(table, {})
        return list(map(rows.get, keys))

    def get_for_update(self, table: str, key: Hashable) -> Any | None:
        address = (table, key)
        written = self.writes.get(address)
        if written is not None:
            return None if written is _DELETED else written
        db = self.db
        if address not in self.read_versions:
            self.read_versions[address] = db.versions.get(address, 0)
        rows = db.tables.get(table)
        row = None if rows is None else rows.get(key)
        return copy_row(row) if row is not None else None

    def put(self, table: str, key: Hashable, row: Any) -> None:
        self.writes[(table, key)] = row

    def delete(self, table: str, key: Hashable) -> None:
        self.writes[(table, key)] = _DELETED

    def keys(self, table: str) -> Iterator[Hashable]:
        committed = self.db.tables.get(table, {})
        if not self.writes:
            return iter(list(committed))
        pending = [
            k for (t, k), row in self.writes.items()
            if t == table and row is not _DELETED and k not in committed
        ]
        deleted = {k for (t, k), row in self.writes.items() if t == table and row is _DELETED}
        return iter([k for k in committed if k not in deleted] + pending)

    def add_outbox(self, event: Event) -> None:
        """Write ``event`` to the outbox as part of this transaction (seed 6.2)."""
        self.outbox_events.append(event)

    def is_processed(self, group: str, event_id: str) -> bool:
        """Whether ``group`` already handled ``event_id``; reads for update, so two concurrent
        handlings of one event conflict and only one commits (seed 4.2.3)."""
        self.read_versions.setdefault((INBOX, (group, event_id)), self.db.versions.get((INBOX, (group, event_id)), 0))
        return self.get(INBOX, (group, event_id)) is not None

    def mark_processed(self, group: str, event_id: str) -> None:
        self.put(INBOX, (group, event_id), True)

    @property
    def is_empty(self) -> bool:
        return not self.writes and not self.outbox_events

    def savepoint(self) -> tuple[dict[tuple[str, Hashable], Any], dict[tuple[str, Hashable], int], int]:
        """What :meth:`rollback_to` restores: the writes (each row copied, since later work in the
        same transaction may change a written row in place), the reads and the outbox so far."""
        writes = {address: row if row is _DELETED else copy_row(row) for address, row in self.writes.items()}
        return writes, dict(self.read_versions), len(self.outbox_events)

    def rollback_to(
        self, point: tuple[dict[tuple[str, Hashable], Any], dict[tuple[str, Hashable], int], int]
    ) -> None:
        """Undo everything done since ``point`` (a :meth:`savepoint`); the rest stays."""
        writes, read_versions, outbox_length = point
        self.writes = dict(writes)
        self.read_versions = dict(read_versions)
        del self.outbox_events[outbox_length:]


def _unpublished(row: Any) -> int:
    """1 for an outbox row not yet published, else 0 (none, or deleted)."""
    return 0 if row is None or row is _DELETED or row.published else 1


class Database:
    """A service's tables, their row versions and its outbox sequence.

    ``commit(tx)`` is a SimPy generator: it waits the commit latency, then either raises
    (:class:`CommitFailed`, :class:`WriteConflict`) or applies every write at once and returns the
    outbox rows it appended. ``commit_fails`` is the hook the fault injector sets.
    """

    def __init__(
        self, name: str, env: simpy.Environment, commit_latency: Callable[[], float],
        connections: int | None = None,
    ) -> None:
        self.name = name
        self.env = env
        self.commit_latency = commit_latency
        self.connections = WorkerPool(env, connections) if connections is not None else None
        self.tables: dict[str, dict[Hashable, Any]] = {}
        self.versions: dict[tuple[str, Hashable], int] = {}
        self.next_outbox_seq = 1
        self.outbox_head = 1
        self._unpublished = 0
        """How many outbox rows are unpublished, kept by every commit (:meth:`outbox_backlog`)."""
        self.outbox_appended = env.event()
        self.commit_fails: Callable[[], bool] | None = None
        self.commits = 0
        self.commit_listeners: list[Callable[[Transaction], None]] = []
        """Called with each committed transaction (a change feed reads them), after it applied."""
        self.commit_guards: list[Callable[[Transaction], str | None]] = []
        """Asked at each commit: the reason to refuse it (a migration's write fence), or None."""

    def begin(self) -> Transaction:
        return Transaction(self)

    def commit(self, tx: Transaction) -> Generator[simpy.Event, Any, list[OutboxRow]]:
        if not tx.writes and not tx.outbox_events:  # ``tx.is_empty``
            return []
        pool = self.connections
        if pool is None:
            yield self.env.timeout(self.commit_latency())
        else:
            yield from pool.take()
            try:
                yield self.env.timeout(self.commit_latency())
            finally:
                pool.release()
        if self.commit_fails is not None and self.commit_fails():
            raise CommitFailed(f"commit to {self.name} failed")
        for guard in self.commit_guards:
            refused = guard(tx)
            if refused is not None:
                raise CommitFailed(f"commit to {self.name} refused: {refused}")
        for address, version in tx.read_versions.items():
            if self.versions.get(address, 0) != version:
                raise WriteConflict(self.name, address[0], address[1])
        return self._apply(tx)

    def load(self, tx: Transaction) -> None:
        """Apply ``tx`` at once, without latency or faults: initial data before the run starts."""
        self._apply(tx)

    def _apply(self, tx: Transaction) -> list[OutboxRow]:
        versions = self.versions
        for address, row in tx.writes.items():
            table, key = address
            rows = self.tables.setdefault(table, {})
            if table == OUTBOX:
                self._unpublished += _unpublished(row) - _unpublished(rows.get(key))
            if row is _DELETED:
                rows.pop(key, None)
            else:
                rows[key] = row
            versions[address] = versions.get(address, 0) + 1
        appended = []
        if tx.outbox_events:
            outbox = self.tables.setdefault(OUTBOX, {})
            for event in tx.outbox_events:
                row = OutboxRow(self.next_outbox_seq, event)
                outbox[row.seq] = row
                appended.append(row)
                self.next_outbox_seq += 1
            self._unpublished += len(tx.outbox_events)
            signal, self.outbox_appended = self.outbox_appended, self.env.event()
            signal.succeed()
        self.commits += 1
        for listener in self.commit_listeners:
            listener(tx)
        return appended

    # --- the outbox, read by the relay -----------------------------------------------------------

    def unpublished(self, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` committed, unpublished outbox rows in commit order."""
        outbox = self.tables.get(OUTBOX, {})
        while self.outbox_head < self.next_outbox_seq and outbox[self.outbox_head].published:
            self.outbox_head += 1
        rows = []
        seq = self.outbox_head
        while seq < self.next_outbox_seq and len(rows) < limit:
            row = outbox[seq]
            if not row.published:
                rows.append(row)
            seq += 1
        return rows

    def outbox_backlog(self) -> int:
        """How many committed outbox rows are unpublished (what :meth:`unpublished` would list),
        counted as they commit: the run samples the backlog every second, and counting the rows
        there grew with the backlog of a saturated run."""
        return self._unpublished

    def snapshot(self) -> dict[str, dict[Hashable, Any]]:
        """The committed tables (shared, not copied: read them only after the run)."""
        return self.tables
