"""The storage port the domain works through.

Domain functions read and write rows of named tables through a :class:`Store`; the runtime passes
a transaction of the service's database (``concertsim.sim.infrastructure.storage``), the unit tests a
:class:`MemoryStore`. Keeping the port this small is what lets the domain stay free of SimPy and of
any notion of commit: whatever a domain function writes becomes visible all at once, or not at all,
depending on what the caller does with the transaction.

Row contract: a row is a mutable ``__slots__`` dataclass whose fields hold scalars or immutable
values (str, int, float, None, tuples, frozensets). ``get_for_update`` hands out a shallow copy, so a
row that contained a list would share it with the committed version.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Protocol

__all__ = ["Store", "MemoryStore", "IdSource", "CountingIds"]


class Store(Protocol):
    """Tables of rows keyed by a hashable key."""

    def get(self, table: str, key: Hashable) -> Any | None:
        """The row under ``key``, or None. The caller must not mutate it."""

    def get_many(self, table: str, keys: Iterable[Hashable]) -> list[Any | None]:
        """The rows under ``keys``, in their order (None where there is none): ``get`` of each,
        in one call (a date's seat view is hundreds of rows)."""

    def get_for_update(self, table: str, key: Hashable) -> Any | None:
        """A private copy of the row under ``key`` (or None) that the caller may mutate and must
        then ``put`` back; reading for update is what lets the store detect write conflicts."""

    def put(self, table: str, key: Hashable, row: Any) -> None:
        """Insert or replace the row under ``key``."""

    def delete(self, table: str, key: Hashable) -> None:
        """Remove the row under ``key`` if there is one."""

    def keys(self, table: str) -> Iterator[Hashable]:
        """The keys of ``table`` in insertion order of their first commit."""


class IdSource(Protocol):
    def next_id(self, prefix: str) -> str:
        """A new id, unique within a run, such as ``res-17``."""


class MemoryStore:
    """A dict-backed :class:`Store` with no transactions: every write is immediately visible."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Hashable, Any]] = {}

    def get(self, table: str, key: Hashable) -> Any | None:
        return self.tables.get(table, {}).get(key)

    def get_many(self, table: str, keys: Iterable[Hashable]) -> list[Any | None]:
        rows = self.tables.get(table, {})
        return list(map(rows.get, keys))

    def get_for_update(self, table: str, key: Hashable) -> Any | None:
        row = self.get(table, key)
        return copy.copy(row) if row is not None else None

    def put(self, table: str, key: Hashable, row: Any) -> None:
        self.tables.setdefault(table, {})[key] = row

    def delete(self, table: str, key: Hashable) -> None:
        self.tables.get(table, {}).pop(key, None)

    def keys(self, table: str) -> Iterator[Hashable]:
        return iter(list(self.tables.get(table, {})))


class CountingIds:
    """An :class:`IdSource` that numbers ids per prefix from 1: ``res-1``, ``res-2``, ..."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def next_id(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}-{n}"
