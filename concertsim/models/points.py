"""Point: prepaid points with a ledger (seed 2, 4.2.2, 4.2.3).

Rules: a balance never goes negative; every change is a ledger entry (charge, use, refund), so a
balance always equals its ledger; a use or a charge keyed by an idempotency key is applied once
however often it is requested; a refund gives back each deduction of a reservation at most once; a refund that
finds no deduction leaves a tombstone so that a deduction arriving late is refused.

Accounts are stored one of two ways (:class:`AccountStorage`). *State*: a balance row per user,
updated with each ledger entry. *Events* (event sourcing, seed 6.1): each user's ledger entries
(charges, deductions, refunds) form a stream, and what is sourced is the stream: no balance is
stored, it is derived by replaying the stream from the latest snapshot (written every
``snapshot_every`` entries) when there is one. Appending an entry inserts it and its position
``(user, version)`` in the stream, the next version after the one replayed; the position is read
for update while absent, so a concurrent append at the same version makes the commit conflict (the
expected-version check of an event store) and no earlier event is written again. A deduction
event carries its idempotency key and a refund is an event naming the deduction, so the
deductions and their refunds are the stream's too: the ``uses`` rows (with ``refunded_at``) and
the key and reservation indexes are projections written in the same transaction as the event
(:func:`rebuild_uses` derives them from the stream alone). Refund tombstones are not sourced: a
refund that finds no deduction names only a reservation, no account, and its tombstone is a row
written once and never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from concertsim.models.errors import (
    DeductionCancelled,
    InsufficientPoints,
    InvalidAmount,
    UnknownAccount,
)
from concertsim.models.events import PointCharged, PointRefunded, PointUsed
from concertsim.models.store import IdSource, Store

__all__ = [
    "ACCOUNTS",
    "LEDGER",
    "USES",
    "USES_BY_KEY",
    "USES_BY_RESERVATION",
    "CHARGES_BY_KEY",
    "TOMBSTONES",
    "OPENING_ENTRY_PREFIX",
    "PointAccount",
    "PointUse",
    "LedgerEntry",
    "RefundTombstone",
    "open_account",
    "charge",
    "balance",
    "use",
    "refund_reservation",
    "ledger_balance",
    "STREAMS",
    "SNAPSHOTS",
    "STREAM_OPENED",
    "AccountStorage",
    "Snapshot",
    "replay",
    "stream_entries",
    "rebuild_uses",
    "entry_delta",
    "STATE_STORED",
    "STREAM_RECORDS",
    "StreamVersions",
    "stored_entry",
]

ACCOUNTS = "accounts"
LEDGER = "ledger"
USES = "uses"
USES_BY_KEY = "uses_by_key"
USES_BY_RESERVATION = "uses_by_reservation"
CHARGES_BY_KEY = "charges_by_key"
TOMBSTONES = "refund_tombstones"
OPENING_ENTRY_PREFIX = "led-open-"
STREAMS = "account_streams"
SNAPSHOTS = "account_snapshots"
STREAM_RECORDS = "account_stream_records"
"""entry id -> (schema version, record): an event-sourced stream's events as written during a
schema upgrade of them (:class:`StreamVersions`)."""
_SIGN = {"charge": 1, "use": -1, "refund": 1}


@dataclass(frozen=True, slots=True)
class StreamVersions:
    """The schema versions of Point's stream events during an upgrade of their schema (seed 6.3):
    a change is stored as a record in version ``writes`` (``STREAM_RECORDS``), and a replay reads
    each record with a reader of version ``reads`` (``rollout``: a
    :class:`concertsim.models.schemas.SchemaRollout` of ``PointLedgerEntry``), which may refuse it
    (:class:`~concertsim.models.errors.UnreadableEvent`) or read a field as its default."""

    rollout: Any
    writes: int
    reads: int


@dataclass(frozen=True, slots=True)
class AccountStorage:
    """How accounts are stored: ``sourced`` (event sourcing) or a balance row; with event
    sourcing, a snapshot of the balance every ``snapshot_every`` entries (None: never), and the
    versions its stream events are written and replayed in during a schema upgrade (``stream``;
    None: the entries are read as they were meant)."""

    sourced: bool = False
    snapshot_every: int | None = None
    stream: StreamVersions | None = None


STATE_STORED = AccountStorage()


STREAM_OPENED = "opened"
"""The row at version 0 of an event-sourced account's stream: the account exists. The entry at
version ``n`` (from 1) is the id of the stream's ``n``-th ledger entry."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The balance after the first ``version`` entries of a user's stream."""

    user_id: int
    version: int
    balance: int


@dataclass(slots=True)
class PointAccount:
    user_id: int
    balance: int


@dataclass(slots=True)
class PointUse:
    """One deduction. ``refunded_at`` is set when it was given back."""

    use_id: str
    user_id: int
    reservation_id: str
    amount: int
    idempotency_key: str
    used_at: float
    refunded_at: float | None = None


@dataclass(slots=True)
class LedgerEntry:
    entry_id: str
    user_id: int
    kind: str
    amount: int
    at: float
    reservation_id: str | None = None
    use_id: str | None = None
    request_key: str | None = None
    """The idempotency key of the client request that made a charge."""


@dataclass(slots=True)
class RefundTombstone:
    """A refund arrived for a reservation with no deduction: a later deduction is refused."""

    reservation_id: str
    at: float


def entry_delta(entry: LedgerEntry) -> int:
    """What ``entry`` does to its user's balance: a charge or a refund adds, a use takes."""
    return _SIGN[entry.kind] * entry.amount


def stored_entry(store: Store, entry_id: str, stream: StreamVersions | None = None) -> LedgerEntry:
    """A stream event as a replay reads it: its record read by ``stream``'s reader when it was
    stored as one, else the entry as meant. Raises what the reader raises when it cannot read it."""
    stored = store.get(STREAM_RECORDS, entry_id) if stream is not None else None
    if stored is None:
        return store.get(LEDGER, entry_id)  # type: ignore[no-any-return]
    assert stream is not None
    version, record = stored
    return stream.rollout.read(record, version, stream.reads)  # type: ignore[no-any-return]


def _fold(store: Store, user_id: int, from_snapshot: bool,
          stream: StreamVersions | None = None) -> tuple[int, int, int]:
    """(balance, stream version, entries replayed): the stream read from its latest snapshot (or
    the start) up to its first absent version."""
    if store.get(STREAMS, (user_id, 0)) is None:
        raise UnknownAccount(user_id)
    snapshot = store.get(SNAPSHOTS, user_id) if from_snapshot else None
    start, total = (snapshot.version, snapshot.balance) if snapshot is not None else (0, 0)
    version = start
    while (entry_id := store.get(STREAMS, (user_id, version + 1))) is not None:
        total += entry_delta(stored_entry(store, entry_id, stream))
        version += 1
    return total, version, version - start


def replay(store: Store, user_id: int, *, from_snapshot: bool = True,
           stream: StreamVersions | None = None) -> tuple[int, int]:
    """An event-sourced account's balance and how many entries were replayed to get it: from its
    latest snapshot (or, ``from_snapshot`` false, from the start), its events read through
    ``stream``'s reader when they were stored as records. Refuses :class:`UnknownAccount`."""
    total, _, replayed = _fold(store, user_id, from_snapshot, stream)
    return total, replayed


def stream_entries(store: Store, user_id: int) -> list[str]:
    """The ids of an event-sourced account's ledger entries, in stream order (empty without one)."""
    entries = []
    while (entry_id := store.get(STREAMS, (user_id, len(entries) + 1))) is not None:
        entries.append(entry_id)
    return entries


def rebuild_uses(store: Store, user_id: int) -> dict[str, PointUse]:
    """The deductions of an event-sourced account, by id, as its stream alone says: each use
    event a deduction (its idempotency key the event's ``request_key``), refunded at its refund
    event's time. What the ``uses`` projection must hold."""
    uses: dict[str, PointUse] = {}
    for entry_id in stream_entries(store, user_id):
        entry = store.get(LEDGER, entry_id)
        if entry.kind == "use":
            uses[entry.use_id] = PointUse(entry.use_id, user_id, entry.reservation_id, entry.amount,
                                          entry.request_key, entry.at)
        elif entry.kind == "refund" and entry.use_id in uses:
            uses[entry.use_id].refunded_at = entry.at
    return uses


@dataclass(slots=True)
class _SourcedAccount(PointAccount):
    """An event-sourced account as replayed for a change: its balance and stream version."""

    version: int = 0


def _account_for_update(store: Store, user_id: int, storage: AccountStorage) -> PointAccount:
    if storage.sourced:
        total, version, _ = _fold(store, user_id, True, storage.stream)
        return _SourcedAccount(user_id, total, version)
    account = store.get_for_update(ACCOUNTS, user_id)
    if account is None:
        raise UnknownAccount(user_id)
    return account


def _record(store: Store, entry: LedgerEntry, account: PointAccount, storage: AccountStorage) -> None:
    """Write ``entry`` and the account it leaves: the balance row, or (event-sourced) the entry at
    the stream's next version, expecting it free (and, when due, a snapshot of the balance)."""
    store.put(LEDGER, entry.entry_id, entry)
    if not storage.sourced:
        store.put(ACCOUNTS, account.user_id, account)
        return
    assert isinstance(account, _SourcedAccount)
    account.version += 1
    position = (account.user_id, account.version)
    if store.get_for_update(STREAMS, position) is not None:
        # only a store that shows other transactions' writes at once gets here; a transaction
        # finds its expected version taken when it commits (WriteConflict)
        raise RuntimeError(f"stream {account.user_id} already has version {account.version}")
    store.put(STREAMS, position, entry.entry_id)
    if storage.stream is not None:
        writes = storage.stream.writes
        store.put(STREAM_RECORDS, entry.entry_id, (writes, storage.stream.rollout.write(entry, writes)))
    if storage.snapshot_every and account.version % storage.snapshot_every == 0:
        store.put(SNAPSHOTS, account.user_id, Snapshot(account.user_id, account.version, account.balance))


def _entry(ids: IdSource, entry_kind: str, user_id: int, amount: int, now: float,
           reservation_id: str | None = None, use_id: str | None = None) -> LedgerEntry:
    return LedgerEntry(ids.next_id("led"), user_id, entry_kind, amount, now, reservation_id, use_id)


def open_account(store: Store, user_id: int, now: float, initial_balance: int = 0,
                 storage: AccountStorage = STATE_STORED) -> None:
    """Create ``user_id``'s account if it has none; an initial balance is a ledger charge."""
    address: tuple[str, Any] = (STREAMS, (user_id, 0)) if storage.sourced else (ACCOUNTS, user_id)
    if store.get(*address) is not None:
        return
    store.get_for_update(*address)
    account: PointAccount
    if storage.sourced:
        store.put(STREAMS, (user_id, 0), STREAM_OPENED)
        account = _SourcedAccount(user_id, initial_balance, 0)
    else:
        account = PointAccount(user_id, initial_balance)
        store.put(ACCOUNTS, user_id, account)
    if initial_balance > 0:
        _record(store, LedgerEntry(f"{OPENING_ENTRY_PREFIX}{user_id}", user_id, "charge", initial_balance, now),
                account, storage)


def balance(store: Store, user_id: int, storage: AccountStorage = STATE_STORED) -> int:
    if storage.sourced:
        return replay(store, user_id, stream=storage.stream)[0]
    account = store.get(ACCOUNTS, user_id)
    if account is None:
        raise UnknownAccount(user_id)
    return account.balance


def charge(
    store: Store, ids: IdSource, *, user_id: int, amount: int, now: float, idempotency_key: str | None = None,
    storage: AccountStorage = STATE_STORED,
) -> list[PointCharged]:
    """Add ``amount`` points (seed 2: ``POST /points/charge``).

    A request whose ``idempotency_key`` was seen credits nothing more and raises no event (a
    client's retry after a lost reply); the key is read for update, so two concurrent requests
    with one key conflict instead of both crediting. The charge's ledger entry records the key."""
    if idempotency_key is not None and store.get_for_update(CHARGES_BY_KEY, idempotency_key) is not None:
        return []
    if amount <= 0:
        raise InvalidAmount(amount)
    account = _account_for_update(store, user_id, storage)
    account.balance += amount
    entry = LedgerEntry(ids.next_id("led"), user_id, "charge", amount, now, request_key=idempotency_key)
    _record(store, entry, account, storage)
    if idempotency_key is not None:
        store.put(CHARGES_BY_KEY, idempotency_key, entry.entry_id)
    return [PointCharged(user_id=user_id, amount=amount, balance=account.balance)]


def use(
    store: Store,
    ids: IdSource,
    *,
    user_id: int,
    amount: int,
    reservation_id: str,
    idempotency_key: str,
    now: float,
    idempotent: bool = True,
    honour_tombstones: bool = True,
    storage: AccountStorage = STATE_STORED,
) -> tuple[PointUse, list[PointUsed]]:
    """Deduct ``amount`` for ``reservation_id``.

    With ``idempotent``, a request whose key was seen returns the earlier deduction and raises no
    event (seed 4.2.3), or refuses with :class:`DeductionCancelled` if that deduction was refunded
    (the payment it belonged to was given up: its points are not taken again, nor reported taken). With ``honour_tombstones``, a reservation already refunded is refused with
    :class:`DeductionCancelled`; the tombstone is read for update, so a refund that commits its
    tombstone while this deduction is in flight makes the deduction's commit conflict instead of
    orphaning it (seed 4.1.1). Otherwise refuses with :class:`InsufficientPoints` rather than
    letting the balance go negative.
    """
    if idempotent:
        seen = store.get_for_update(USES_BY_KEY, idempotency_key)
        if seen is not None:
            earlier = store.get(USES, seen)
            if earlier.refunded_at is not None:
                raise DeductionCancelled(reservation_id)
            return earlier, []
    if honour_tombstones and store.get_for_update(TOMBSTONES, reservation_id) is not None:
        raise DeductionCancelled(reservation_id)
    if amount <= 0:
        raise InvalidAmount(amount)
    account = _account_for_update(store, user_id, storage)
    if account.balance < amount:
        raise InsufficientPoints(user_id, account.balance, amount)
    account.balance -= amount
    deduction = PointUse(ids.next_id("use"), user_id, reservation_id, amount, idempotency_key, now)
    store.put(USES, deduction.use_id, deduction)
    if idempotent:
        store.put(USES_BY_KEY, idempotency_key, deduction.use_id)
    earlier = store.get_for_update(USES_BY_RESERVATION, reservation_id) or ()
    store.put(USES_BY_RESERVATION, reservation_id, (*earlier, deduction.use_id))
    entry = _entry(ids, "use", user_id, amount, now, reservation_id, deduction.use_id)
    if storage.sourced:
        entry.request_key = idempotency_key  # the deduction is rebuilt from its event alone
    _record(store, entry, account, storage)
    return deduction, [
        PointUsed(user_id=user_id, use_id=deduction.use_id, reservation_id=reservation_id,
                  amount=amount, balance=account.balance)
    ]


def refund_reservation(
    store: Store, ids: IdSource, *, reservation_id: str, now: float, leave_tombstone: bool = True,
    storage: AccountStorage = STATE_STORED,
) -> list[PointRefunded]:
    """Give back every deduction of ``reservation_id`` not yet refunded (the compensation of
    seed 4.2.2), each at most once. Finding none, leave a tombstone (if asked) so a late deduction
    is refused (seed 4.1.1). The reservation's deductions and each refunded one are read for update,
    so a deduction or another refund committing meanwhile makes this commit conflict."""
    use_ids = store.get_for_update(USES_BY_RESERVATION, reservation_id) or ()
    if not use_ids:
        if leave_tombstone and store.get(TOMBSTONES, reservation_id) is None:
            store.put(TOMBSTONES, reservation_id, RefundTombstone(reservation_id, now))
        return []
    refunded = []
    for use_id in use_ids:
        deduction = store.get_for_update(USES, use_id)
        if deduction.refunded_at is not None:
            continue
        deduction.refunded_at = now
        store.put(USES, use_id, deduction)
        account = _account_for_update(store, deduction.user_id, storage)
        account.balance += deduction.amount
        _record(store, _entry(ids, "refund", deduction.user_id, deduction.amount, now, reservation_id, use_id),
                account, storage)
        refunded.append(
            PointRefunded(user_id=deduction.user_id, use_id=use_id, reservation_id=reservation_id,
                          amount=deduction.amount, balance=account.balance)
        )
    return refunded


def ledger_balance(store: Store, user_id: int) -> int:
    """Charges minus uses plus refunds of ``user_id`` (what the balance must equal)."""
    total = 0
    for key in store.keys(LEDGER):
        entry = store.get(LEDGER, key)
        if entry.user_id == user_id:
            total += entry_delta(entry)
    return total
