"""A failure report says which safeguard of a migration plan was switched off when it let the
broken promise break, naming where it is set, in a chain too; nothing when every one is on."""

from __future__ import annotations

from concertsim.reports.run.migration_cause import migration_cause
from concertsim.scenarios.loader import load_builtin


def test_a_chained_moves_switched_off_safeguard_is_named_where_it_is_set() -> None:
    chain = load_builtin("monolith-split", ["migration.then.fence=false"])
    said = migration_cause(chain, "migration-queue-tokens-kept")
    assert said is not None and said.startswith("Queue's move has a safeguard switched off (migration.then.fence=false)")
    assert migration_cause(chain, "migration-one-owner") is None  # Point's fence is on
    assert migration_cause(chain, "no-double-booking") is None


def test_a_single_plans_safeguards_and_none_when_all_are_on() -> None:
    moved = load_builtin("point-migration", ["migration.catch_up=false"])
    said = migration_cause(moved, "migration-no-double-spend")
    assert said is not None and "(migration.catch_up=false)" in said
    assert migration_cause(load_builtin("point-migration"), "migration-no-double-spend") is None
    assert migration_cause(load_builtin("ticket-opening"), "migration-no-lost-write") is None
