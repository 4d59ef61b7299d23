"""The broker's de-duplication window (an idempotent producer, seed 8.3 "removes duplicates")
keeps duplicated publishes out of the log, but not redeliveries: without consumer
de-duplication, the second still double-counts."""

from __future__ import annotations

import pytest

from concertsim.api import run

DUPLICATED = {"publish": "faults=[{at: 0, kind: duplicate, target: publish, duration: 30}]",
              "delivery": "faults=[{at: 0, kind: duplicate, target: delivery, duration: 30}]"}
DOUBLE_COUNTED = ["ranking-converges", "data-platform-exactly-once"]


@pytest.mark.parametrize(("duplicated", "window", "broken"), [
    ("publish", None, DOUBLE_COUNTED),
    ("publish", 60, []),
    ("delivery", 60, DOUBLE_COUNTED),
])
def test_what_a_deduplicating_broker_prevents_and_what_it_cannot(duplicated: str, window: int | None,
                                                                 broken: list[str]) -> None:
    overrides = ["design.consumer_dedup=false", DUPLICATED[duplicated], "workload.users=60"]
    if window is not None:
        overrides.append(f"broker.dedup_window={window}")
    outcome = run("small-opening", overrides=overrides)
    assert outcome.violated == broken
    removed = [r for r in outcome.result.trace.records if r.kind == "broker.duplicate_removed"]
    assert bool(removed) == (duplicated == "publish" and window is not None)
