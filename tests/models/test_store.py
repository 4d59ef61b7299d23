"""The in-memory store the domain's unit tests run on: the Store port's contract."""

from __future__ import annotations

from dataclasses import dataclass

from concertsim.models.store import CountingIds, MemoryStore


@dataclass(slots=True)
class Row:
    value: int


def test_a_row_read_for_update_is_a_copy_until_it_is_put_back() -> None:
    store = MemoryStore()
    store.put("t", 1, Row(1))
    row = store.get_for_update("t", 1)
    row.value = 2
    assert store.get("t", 1) == Row(1)
    store.put("t", 1, row)
    assert store.get("t", 1) == Row(2)
    assert store.get_for_update("t", 2) is None and store.get_for_update("u", 1) is None


def test_deleting_a_row_that_is_not_there_does_nothing() -> None:
    store = MemoryStore()
    store.delete("t", 1)
    store.put("t", 1, Row(1))
    store.delete("t", 2)
    store.delete("t", 1)
    assert store.get("t", 1) is None and list(store.keys("t")) == []


def test_keys_are_in_insertion_order_and_a_snapshot_safe_to_iterate_while_writing() -> None:
    store = MemoryStore()
    for key in (3, 1, 2):
        store.put("t", key, Row(key))
    seen = []
    for key in store.keys("t"):
        seen.append(key)
        store.delete("t", key)
    assert seen == [3, 1, 2] and list(store.keys("missing")) == []


def test_ids_are_numbered_per_prefix_from_one() -> None:
    ids = CountingIds()
    assert [ids.next_id("res"), ids.next_id("tok"), ids.next_id("res")] == ["res-1", "tok-1", "res-2"]
