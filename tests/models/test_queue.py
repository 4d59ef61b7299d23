"""Queue tokens: issued in order, activated up to capacity, expired when idle or on completion."""

from __future__ import annotations

import pytest

from concertsim.models import queue as q
from concertsim.models.errors import TokenNotActive, TokenNotFound
from concertsim.models.store import CountingIds, MemoryStore

ids = CountingIds()


def issue(store: MemoryStore, users: range) -> list[q.QueueToken]:
    return [q.issue_token(store, ids, user_id=u, now=float(u)) for u in users]


def test_tokens_are_issued_in_order_and_activate_in_that_order_up_to_capacity() -> None:
    store = MemoryStore()
    tokens = issue(store, range(1, 6))
    activated = q.activate_waiting(store, capacity=2, now=10.0)
    assert [e.token_id for e in activated] == [t.token_id for t in tokens[:2]]
    assert q.active_count(store) == 2
    assert q.activate_waiting(store, capacity=2, now=11.0) == []
    assert q.position(store, tokens[2].token_id) == 1
    assert q.position(store, tokens[4].token_id) == 3


def test_a_user_with_a_live_token_gets_it_back() -> None:
    store = MemoryStore()
    first = q.issue_token(store, ids, user_id=1, now=0.0)
    assert q.issue_token(store, ids, user_id=1, now=1.0).token_id == first.token_id


def test_check_refuses_a_waiting_token_and_an_unknown_one() -> None:
    store = MemoryStore()
    (token,) = issue(store, range(1, 2))
    with pytest.raises(TokenNotActive):
        q.check_active(store, token_id=token.token_id, now=1.0)
    with pytest.raises(TokenNotFound):
        q.check_active(store, token_id="tok-nope", now=1.0)


def test_idle_active_tokens_expire_and_free_their_place() -> None:
    store = MemoryStore()
    tokens = issue(store, range(1, 4))
    q.activate_waiting(store, capacity=2, now=10.0)
    q.check_active(store, token_id=tokens[1].token_id, now=50.0)
    expired = q.expire_idle(store, idle_ttl=60.0, now=70.0)
    assert [e.token_id for e in expired] == [tokens[0].token_id]
    with pytest.raises(TokenNotActive):
        q.check_active(store, token_id=tokens[0].token_id, now=71.0)
    assert [e.token_id for e in q.activate_waiting(store, capacity=2, now=71.0)] == [tokens[2].token_id]


def test_completion_ends_the_buyers_token() -> None:
    store = MemoryStore()
    (token,) = issue(store, range(1, 2))
    q.activate_waiting(store, capacity=1, now=1.0)
    assert [e.reason for e in q.complete(store, user_id=1, now=2.0)] == ["completed"]
    assert q.active_count(store) == 0
    assert q.complete(store, user_id=1, now=3.0) == []


def test_capacity_is_never_exceeded_whatever_the_interleaving() -> None:
    store = MemoryStore()
    issue(store, range(1, 30))
    for step in range(40):
        q.activate_waiting(store, capacity=5, now=float(step))
        assert q.active_count(store) <= 5
        if step % 3 == 0:
            q.expire_idle(store, idle_ttl=2.0, now=float(step))
