"""Queue: the waiting room's tokens (seed 2, ``POST /queue/tokens``).

Tokens are issued in order and wait; the activator lets them in, in issue order, while fewer than
``capacity`` are active. A token ends when its user completes a purchase, when its user gives it
back, or when it goes stale (:func:`is_stale`, the one expiry rule): a waiting token whose user has
not polled it for ``waiting_ttl`` seconds (the user closed the tab), an active one with no request
through the gateway's token check for ``idle_ttl`` seconds (a buyer thinking over a held seat is
kept alive by the checkout page's requests, like any other user). The number of active tokens
never exceeds the capacity.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from concertsim.models.errors import NotTokenOwner, TokenNotActive, TokenNotFound
from concertsim.models.events import QueueTokenActivated, QueueTokenExpired
from concertsim.models.store import IdSource, Store

__all__ = [
    "TOKENS",
    "USER_TOKENS",
    "WAITING",
    "STATE",
    "ACTIVE",
    "TokenStatus",
    "QueueToken",
    "QueueState",
    "issue_token",
    "activate_waiting",
    "check_active",
    "owned_token",
    "position",
    "expire_idle",
    "is_stale",
    "poll",
    "complete",
    "leave",
    "active_count",
]

TOKENS = "tokens"
USER_TOKENS = "user_tokens"
WAITING = "waiting"
STATE = "state"
ACTIVE = "active"
_STATE_KEY = "state"


class TokenStatus(enum.StrEnum):
    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"


@dataclass(slots=True)
class QueueToken:
    token_id: str
    user_id: int
    seq: int
    issued_at: float
    status: TokenStatus
    last_seen_at: float
    """When its user was last seen: the last poll while waiting, the last checked request (or the
    activation) while active."""
    activated_at: float | None = None
    expired_at: float | None = None
    expiry_reason: str | None = None


@dataclass(slots=True)
class QueueState:
    """``head_seq``: the oldest seq that may still be waiting; ``next_seq``: the next to issue."""

    next_seq: int = 1
    head_seq: int = 1
    active_count: int = 0


def _state(store: Store) -> QueueState:
    return store.get_for_update(STATE, _STATE_KEY) or QueueState()


def issue_token(store: Store, ids: IdSource, *, user_id: int, now: float) -> QueueToken:
    """The user's live token, or a new waiting one at the back of the queue."""
    live = store.get(USER_TOKENS, user_id)
    if live is not None:
        token = store.get(TOKENS, live)
        if token is not None and token.status != TokenStatus.EXPIRED:
            return token
    state = _state(store)
    token = QueueToken(ids.next_id("tok"), user_id, state.next_seq, now, TokenStatus.WAITING, now)
    state.next_seq += 1
    store.put(STATE, _STATE_KEY, state)
    store.put(TOKENS, token.token_id, token)
    store.put(WAITING, token.seq, token.token_id)
    store.put(USER_TOKENS, user_id, token.token_id)
    return token


def activate_waiting(
    store: Store, *, capacity: int, now: float, waiting_ttl: float | None = None
) -> list[QueueTokenActivated | QueueTokenExpired]:
    """Let waiting tokens in, oldest first, while fewer than ``capacity`` are active. A waiting
    token gone stale (:func:`is_stale`) is expired (reason ``idle``) instead of let in, so that the
    place goes to a user still polling; the expiries are returned beside the activations, in line
    order."""
    state = store.get(STATE, _STATE_KEY)
    if state is None or state.active_count >= capacity or state.head_seq >= state.next_seq:
        return []
    state = _state(store)
    changed: list[QueueTokenActivated | QueueTokenExpired] = []
    while state.active_count < capacity and state.head_seq < state.next_seq:
        token_id = store.get(WAITING, state.head_seq)
        store.delete(WAITING, state.head_seq)
        state.head_seq += 1
        token = store.get_for_update(TOKENS, token_id)
        if token is None or token.status != TokenStatus.WAITING:
            continue
        if is_stale(token, now=now, idle_ttl=None, waiting_ttl=waiting_ttl):
            changed.append(_expire(store, token, "idle", now, state))
            continue
        token.status, token.activated_at, token.last_seen_at = TokenStatus.ACTIVE, now, now
        store.put(TOKENS, token_id, token)
        store.put(ACTIVE, token_id, True)
        state.active_count += 1
        changed.append(QueueTokenActivated(user_id=token.user_id, token_id=token_id))
    store.put(STATE, _STATE_KEY, state)
    return changed


def owned_token(store: Store, *, token_id: str, user_id: int) -> QueueToken:
    """The token ``token_id`` of ``user_id``; refuses :class:`TokenNotFound` and, for another
    user's token, :class:`NotTokenOwner` (a token admits its own user only)."""
    token = store.get(TOKENS, token_id)
    if token is None:
        raise TokenNotFound(token_id)
    if token.user_id != user_id:
        raise NotTokenOwner(token_id, user_id)
    return token


def check_active(store: Store, *, token_id: str, user_id: int, now: float) -> QueueToken:
    """The gateway's check: the token must be ``user_id``'s own and active. Counts as activity."""
    owned_token(store, token_id=token_id, user_id=user_id)
    token = store.get_for_update(TOKENS, token_id)
    if token.status != TokenStatus.ACTIVE:
        raise TokenNotActive(token_id, str(token.status))
    token.last_seen_at = now
    store.put(TOKENS, token_id, token)
    return token


def poll(store: Store, *, token_id: str, user_id: int, now: float) -> QueueToken:
    """The user's own token (:func:`owned_token`), as its user polls it: a poll of a waiting token
    is its user's sign of presence (:func:`is_stale`)."""
    owned_token(store, token_id=token_id, user_id=user_id)
    token = store.get_for_update(TOKENS, token_id)
    if token.status == TokenStatus.WAITING:
        token.last_seen_at = now
        store.put(TOKENS, token_id, token)
    return token


def position(store: Store, token_id: str) -> int:
    """0 for an active or expired token; for a waiting one, its place in line (1 = next in).

    Waiting tokens are activated in issue order, so the tokens between the head of the line and
    this one are the ones ahead of it. The tokens that left the line early (given back, gone
    stale, or ended by :func:`complete` for a user who re-queued) are not subtracted: a place may
    be overstated by such tokens, never understated.
    """
    token = store.get(TOKENS, token_id)
    if token is None:
        raise TokenNotFound(token_id)
    if token.status != TokenStatus.WAITING:
        return 0
    state = store.get(STATE, _STATE_KEY) or QueueState()
    return token.seq - state.head_seq + 1


def _expire(store: Store, token: QueueToken, reason: str, now: float, state: QueueState) -> QueueTokenExpired:
    if token.status == TokenStatus.ACTIVE:
        state.active_count -= 1
        store.delete(ACTIVE, token.token_id)
    token.status, token.expired_at, token.expiry_reason = TokenStatus.EXPIRED, now, reason
    store.put(TOKENS, token.token_id, token)
    return QueueTokenExpired(user_id=token.user_id, token_id=token.token_id, reason=reason)


def is_stale(token: QueueToken, *, now: float, idle_ttl: float | None, waiting_ttl: float | None) -> bool:
    """The expiry rule: a waiting token not polled for ``waiting_ttl`` seconds, or an active one
    with no checked request for ``idle_ttl`` seconds. A ttl of None never expires tokens of that
    status."""
    if token.status == TokenStatus.WAITING:
        return waiting_ttl is not None and now - token.last_seen_at >= waiting_ttl
    if token.status == TokenStatus.ACTIVE:
        return idle_ttl is not None and now - token.last_seen_at >= idle_ttl
    return False


def expire_idle(
    store: Store, *, idle_ttl: float, now: float, waiting_ttl: float | None = None
) -> list[QueueTokenExpired]:
    """Expire every stale token (:func:`is_stale`) with reason ``idle``, in issue order: an active
    one's place goes to the next in line, a waiting one is skipped by the activator."""
    candidates = [store.get(TOKENS, token_id) for token_id in store.keys(ACTIVE)]
    if waiting_ttl is not None:
        candidates += [store.get(TOKENS, store.get(WAITING, seq)) for seq in store.keys(WAITING)]
    stale = sorted(
        (t for t in candidates
         if t is not None and is_stale(t, now=now, idle_ttl=idle_ttl, waiting_ttl=waiting_ttl)),
        key=lambda t: t.seq,
    )
    if not stale:
        return []
    state = _state(store)
    expired = [_expire(store, store.get_for_update(TOKENS, t.token_id), "idle", now, state) for t in stale]
    store.put(STATE, _STATE_KEY, state)
    return expired


def complete(store: Store, *, user_id: int, now: float) -> list[QueueTokenExpired]:
    """The user bought a ticket: their live token ends (reason ``completed``)."""
    token_id = store.get(USER_TOKENS, user_id)
    token = store.get_for_update(TOKENS, token_id) if token_id is not None else None
    if token is None or token.status == TokenStatus.EXPIRED:
        return []
    state = _state(store)
    expired = _expire(store, token, "completed", now, state)
    store.put(STATE, _STATE_KEY, state)
    return [expired]


def leave(store: Store, *, token_id: str, user_id: int, now: float) -> list[QueueTokenExpired]:
    """The user gives their token back (reason ``left``): a waiting one gives up its place (the
    activator skips it), an active one frees a place for the next in line at once. Only the
    token's own user may give it back (:class:`NotTokenOwner`); a token already ended is left as
    it is."""
    owned_token(store, token_id=token_id, user_id=user_id)
    token = store.get_for_update(TOKENS, token_id)
    if token.status == TokenStatus.EXPIRED:
        return []
    state = _state(store)
    left = _expire(store, token, "left", now, state)
    store.put(STATE, _STATE_KEY, state)
    return [left]


def active_count(store: Store) -> int:
    state = store.get(STATE, _STATE_KEY)
    return state.active_count if state is not None else 0
