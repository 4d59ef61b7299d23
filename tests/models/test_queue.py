"""Queue tokens: issued in order, activated up to capacity, expired when idle or on completion."""

from __future__ import annotations

import pytest

from concertsim.models import queue as q
from concertsim.models.errors import NotTokenOwner, TokenNotActive, TokenNotFound
from concertsim.models.events import QueueTokenActivated, QueueTokenExpired
from concertsim.models.store import CountingIds, MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def issue(store: MemoryStore):
    ids = CountingIds()

    def issue(users: range) -> list[q.QueueToken]:
        return [q.issue_token(store, ids, user_id=u, now=float(u)) for u in users]

    return issue


def test_tokens_are_issued_waiting_with_increasing_seq(issue) -> None:
    tokens = issue(range(1, 4))
    assert [t.seq for t in tokens] == [1, 2, 3]
    assert {t.status for t in tokens} == {q.TokenStatus.WAITING}


def test_tokens_activate_in_issue_order_up_to_capacity(store: MemoryStore, issue) -> None:
    tokens = issue(range(1, 6))
    activated = q.activate_waiting(store, capacity=2, now=10.0)
    assert activated == [QueueTokenActivated(user_id=t.user_id, token_id=t.token_id) for t in tokens[:2]]
    assert q.active_count(store) == 2
    assert q.activate_waiting(store, capacity=2, now=11.0) == []
    assert store.get(q.TOKENS, tokens[0].token_id).activated_at == 10.0
    assert set(store.keys(q.ACTIVE)) == {tokens[0].token_id, tokens[1].token_id}


def test_position_is_zero_when_active_and_the_place_in_line_while_waiting(store: MemoryStore, issue) -> None:
    tokens = issue(range(1, 6))
    assert [q.position(store, t.token_id) for t in tokens] == [1, 2, 3, 4, 5]
    q.activate_waiting(store, capacity=2, now=10.0)
    assert [q.position(store, t.token_id) for t in tokens] == [0, 0, 1, 2, 3]
    with pytest.raises(TokenNotFound):
        q.position(store, "tok-nope")


def test_a_user_with_a_live_token_gets_it_back(store: MemoryStore, issue) -> None:
    (first,) = issue(range(1, 2))
    assert issue(range(1, 2)) == [first]
    q.activate_waiting(store, capacity=1, now=2.0)
    assert issue(range(1, 2))[0].token_id == first.token_id


def test_a_user_whose_token_expired_gets_a_new_one_at_the_back(store: MemoryStore, issue) -> None:
    (first,) = issue(range(1, 2))
    q.activate_waiting(store, capacity=1, now=1.0)
    q.expire_idle(store, idle_ttl=5.0, now=6.0)
    issue(range(2, 3))
    (again,) = issue(range(1, 2))
    assert again.token_id != first.token_id and again.seq == 3
    assert q.position(store, again.token_id) == 2


def test_check_refuses_a_waiting_token_and_an_unknown_one(store: MemoryStore, issue) -> None:
    (token,) = issue(range(1, 2))
    with pytest.raises(TokenNotActive) as refused:
        q.check_active(store, token_id=token.token_id, user_id=token.user_id, now=1.0)
    assert refused.value.status == "WAITING"
    with pytest.raises(TokenNotFound):
        q.check_active(store, token_id="tok-nope", user_id=1, now=1.0)


def test_a_token_admits_its_own_user_only(store: MemoryStore, issue) -> None:
    mine, theirs = issue(range(1, 3))
    q.activate_waiting(store, capacity=2, now=1.0)
    with pytest.raises(NotTokenOwner):
        q.check_active(store, token_id=theirs.token_id, user_id=mine.user_id, now=2.0)
    with pytest.raises(NotTokenOwner):
        q.leave(store, token_id=theirs.token_id, user_id=mine.user_id, now=2.0)
    assert q.check_active(store, token_id=theirs.token_id, user_id=theirs.user_id, now=2.0).status == "ACTIVE"


def test_check_of_an_active_token_counts_as_activity(store: MemoryStore, issue) -> None:
    (token,) = issue(range(1, 2))
    q.activate_waiting(store, capacity=1, now=1.0)
    assert q.check_active(store, token_id=token.token_id, user_id=token.user_id, now=4.0).last_seen_at == 4.0
    assert q.expire_idle(store, idle_ttl=5.0, now=8.0) == []
    assert len(q.expire_idle(store, idle_ttl=5.0, now=9.0)) == 1


def test_idle_active_tokens_expire_and_free_their_place(store: MemoryStore, issue) -> None:
    tokens = issue(range(1, 4))
    q.activate_waiting(store, capacity=2, now=10.0)
    q.check_active(store, token_id=tokens[1].token_id, user_id=tokens[1].user_id, now=50.0)
    expired = q.expire_idle(store, idle_ttl=60.0, now=70.0)
    assert expired == [QueueTokenExpired(user_id=1, token_id=tokens[0].token_id, reason="idle")]
    assert q.active_count(store) == 1
    with pytest.raises(TokenNotActive):
        q.check_active(store, token_id=tokens[0].token_id, user_id=tokens[0].user_id, now=71.0)
    assert [e.token_id for e in q.activate_waiting(store, capacity=2, now=71.0)] == [tokens[2].token_id]


def test_idle_tokens_expire_in_issue_order(store: MemoryStore, issue) -> None:
    tokens = issue(range(1, 4))
    q.activate_waiting(store, capacity=3, now=1.0)
    for token in reversed(tokens):
        q.check_active(store, token_id=token.token_id, user_id=token.user_id, now=2.0)
    assert [e.token_id for e in q.expire_idle(store, idle_ttl=1.0, now=3.0)] == [t.token_id for t in tokens]


def test_waiting_tokens_do_not_expire_without_a_waiting_ttl(store: MemoryStore, issue) -> None:
    (token,) = issue(range(1, 2))
    assert q.expire_idle(store, idle_ttl=1.0, now=100.0) == []
    assert q.position(store, token.token_id) == 1


def test_a_waiting_token_not_polled_for_the_waiting_ttl_expires(store: MemoryStore, issue) -> None:
    polled, forgotten = issue(range(1, 3))
    q.poll(store, token_id=polled.token_id, user_id=1, now=25.0)
    assert q.expire_idle(store, idle_ttl=60.0, waiting_ttl=30.0, now=31.0) == []
    expired = q.expire_idle(store, idle_ttl=60.0, waiting_ttl=30.0, now=32.0)
    assert expired == [QueueTokenExpired(user_id=2, token_id=forgotten.token_id, reason="idle")]
    assert store.get(q.TOKENS, polled.token_id).status == q.TokenStatus.WAITING
    assert q.poll(store, token_id=forgotten.token_id, user_id=2, now=33.0).status == q.TokenStatus.EXPIRED


def test_the_activator_lets_in_the_next_user_present_instead_of_a_stale_waiting_token(
    store: MemoryStore, issue
) -> None:
    gone, present = issue(range(1, 3))
    q.poll(store, token_id=present.token_id, user_id=2, now=40.0)
    changed = q.activate_waiting(store, capacity=1, now=45.0, waiting_ttl=30.0)
    assert changed == [QueueTokenExpired(user_id=1, token_id=gone.token_id, reason="idle"),
                       QueueTokenActivated(user_id=2, token_id=present.token_id)]
    assert q.active_count(store) == 1
    skipped = store.get(q.TOKENS, gone.token_id)
    assert (skipped.status, skipped.expired_at) == (q.TokenStatus.EXPIRED, 45.0)


def test_one_rule_decides_when_a_token_is_stale(store: MemoryStore, issue) -> None:
    waiting, active = issue(range(1, 3))
    q.activate_waiting(store, capacity=1, now=1.0)
    active, waiting = store.get(q.TOKENS, waiting.token_id), store.get(q.TOKENS, active.token_id)
    assert active.status == q.TokenStatus.ACTIVE and waiting.status == q.TokenStatus.WAITING
    assert not q.is_stale(active, now=10.0, idle_ttl=10.0, waiting_ttl=5.0)
    assert q.is_stale(active, now=11.0, idle_ttl=10.0, waiting_ttl=5.0)
    assert q.is_stale(waiting, now=7.0, idle_ttl=10.0, waiting_ttl=5.0)
    assert not q.is_stale(waiting, now=7.0, idle_ttl=10.0, waiting_ttl=None)
    q.complete(store, user_id=active.user_id, now=12.0)
    ended = store.get(q.TOKENS, active.token_id)
    assert not q.is_stale(ended, now=1000.0, idle_ttl=10.0, waiting_ttl=5.0)  # an ended token stays ended


def test_completion_ends_the_buyers_token(store: MemoryStore, issue) -> None:
    issue(range(1, 2))
    q.activate_waiting(store, capacity=1, now=1.0)
    assert [e.reason for e in q.complete(store, user_id=1, now=2.0)] == ["completed"]
    assert q.active_count(store) == 0
    assert q.complete(store, user_id=1, now=3.0) == []
    assert q.complete(store, user_id=99, now=3.0) == []


def test_a_waiting_token_ended_by_completion_is_skipped_by_the_activator(store: MemoryStore, issue) -> None:
    tokens = issue(range(1, 3))
    q.complete(store, user_id=1, now=2.0)
    assert q.active_count(store) == 0
    assert [e.token_id for e in q.activate_waiting(store, capacity=5, now=3.0)] == [tokens[1].token_id]
    assert store.get(q.TOKENS, tokens[0].token_id).expiry_reason == "completed"


def test_capacity_is_never_exceeded_whatever_the_interleaving(store: MemoryStore, issue) -> None:
    tokens = issue(range(1, 30))
    activation_order = []
    for step in range(40):
        activation_order += [e.token_id for e in q.activate_waiting(store, capacity=5, now=float(step))]
        assert q.active_count(store) == len(list(store.keys(q.ACTIVE))) <= 5
        if step % 3 == 0:
            q.expire_idle(store, idle_ttl=2.0, now=float(step))
        if step % 4 == 0:
            q.complete(store, user_id=step + 1, now=float(step))
    assert activation_order == [t.token_id for t in tokens if t.token_id in activation_order]


def test_a_user_who_leaves_gives_their_place_to_the_next_in_line() -> None:
    from concertsim.models.store import CountingIds, MemoryStore

    store, ids = MemoryStore(), CountingIds()
    first, second, third = (q.issue_token(store, ids, user_id=u, now=0.0) for u in (1, 2, 3))
    q.activate_waiting(store, capacity=1, now=0.0)
    with pytest.raises(NotTokenOwner):
        q.leave(store, token_id=second.token_id, user_id=9, now=1.0)
    assert [e.reason for e in q.leave(store, token_id=second.token_id, user_id=2, now=1.0)] == ["left"]
    assert [e.reason for e in q.leave(store, token_id=first.token_id, user_id=1, now=2.0)] == ["left"]
    assert q.leave(store, token_id=first.token_id, user_id=1, now=3.0) == []
    assert [e.token_id for e in q.activate_waiting(store, capacity=1, now=3.0)] == [third.token_id]
    assert q.active_count(store) == 1


def test_a_refused_token_check_names_the_token_and_the_user(store: MemoryStore, issue) -> None:
    token = issue(range(1, 2))[0]
    with pytest.raises(TokenNotFound) as unknown:
        q.owned_token(store, token_id="tok-9", user_id=1)
    assert unknown.value.token == "tok-9"
    with pytest.raises(NotTokenOwner) as other:
        q.owned_token(store, token_id=token.token_id, user_id=2)
    assert (other.value.token, other.value.user) == (token.token_id, 2)
    with pytest.raises(TokenNotActive) as waiting:
        q.check_active(store, token_id=token.token_id, user_id=1, now=1.0)
    assert (waiting.value.token, waiting.value.status) == (token.token_id, "WAITING")
    with pytest.raises(TokenNotFound) as nowhere:
        q.position(store, "tok-9")
    assert nowhere.value.token == "tok-9"


def test_a_completed_or_left_token_records_when_and_why_it_ended(store: MemoryStore, issue) -> None:
    first, second = issue(range(1, 3))
    q.activate_waiting(store, capacity=5, now=1.0)
    q.complete(store, user_id=1, now=2.0)
    q.leave(store, token_id=second.token_id, user_id=2, now=3.0)
    ended = [store.get(q.TOKENS, t.token_id) for t in (first, second)]
    assert [(t.status, t.expired_at, t.expiry_reason) for t in ended] == [
        (q.TokenStatus.EXPIRED, 2.0, "completed"), (q.TokenStatus.EXPIRED, 3.0, "left")]


def test_no_token_is_active_before_the_first_is_issued(store: MemoryStore) -> None:
    assert q.active_count(store) == 0



def test_nothing_is_activated_before_the_first_token_is_issued(store: MemoryStore) -> None:
    assert q.activate_waiting(store, capacity=5, now=0.0) == []
    assert store.get(q.STATE, "state") is None


def test_an_admitted_token_leaves_the_line(store: MemoryStore, issue) -> None:
    first, second = issue(range(1, 3))
    assert (store.get(q.WAITING, 1), store.get(q.WAITING, 2)) == (first.token_id, second.token_id)
    q.activate_waiting(store, capacity=1, now=1.0)
    assert (store.get(q.WAITING, 1), store.get(q.WAITING, 2)) == (None, second.token_id)


def test_an_idle_token_records_when_it_idled_out(store: MemoryStore, issue) -> None:
    token = issue(range(1, 2))[0]
    q.activate_waiting(store, capacity=1, now=1.0)
    q.expire_idle(store, idle_ttl=5.0, now=6.0)
    ended = store.get(q.TOKENS, token.token_id)
    assert (ended.status, ended.expired_at, ended.expiry_reason) == (q.TokenStatus.EXPIRED, 6.0, "idle")


class RecordingStore(MemoryStore):
    """A MemoryStore that remembers the rows read for update and written (what a transaction
    locks and what makes a concurrent one conflict)."""

    def __init__(self) -> None:
        super().__init__()
        self.touched: list[tuple[str, str, object]] = []

    def get_for_update(self, table: str, key: object) -> object:
        self.touched.append(("read-for-update", table, key))
        return super().get_for_update(table, key)

    def put(self, table: str, key: object, row: object) -> None:
        self.touched.append(("put", table, key))
        super().put(table, key, row)


def test_an_activator_finding_the_room_full_takes_no_lock() -> None:
    store, ids = RecordingStore(), CountingIds()
    for user in (1, 2):
        q.issue_token(store, ids, user_id=user, now=0.0)
    q.activate_waiting(store, capacity=1, now=1.0)
    store.touched.clear()
    assert q.activate_waiting(store, capacity=1, now=2.0) == []
    assert store.touched == []



def test_an_issued_token_records_every_field() -> None:
    store, ids = MemoryStore(), CountingIds()
    q.issue_token(store, ids, user_id=4, now=2.5)
    token = q.issue_token(store, ids, user_id=5, now=3.0)
    assert token == q.QueueToken("tok-2", 5, 2, 3.0, q.TokenStatus.WAITING, 3.0, activated_at=None,
                                 expired_at=None, expiry_reason=None)
    assert (store.get(q.TOKENS, "tok-2"), store.get(q.USER_TOKENS, 5), store.get(q.WAITING, 2)) == (
        token, "tok-2", "tok-2")


def test_with_a_waiting_ttl_idle_active_and_stale_waiting_tokens_both_expire(store: MemoryStore, issue) -> None:
    first, second = issue(range(1, 3))
    q.activate_waiting(store, capacity=1, now=0.0)
    expired = q.expire_idle(store, idle_ttl=10.0, now=100.0, waiting_ttl=10.0)
    assert [e.token_id for e in expired] == [first.token_id, second.token_id]
