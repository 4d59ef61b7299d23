"""The outbox relay publishes one event per round trip (``each``) or a batch per produce request
(``batch``): both deliver every event, at least once and in commit order."""

from __future__ import annotations

from concertsim.checks import check_run
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario


def publishes(result) -> list[tuple[str, str]]:
    return [(r.party, r.data["event_id"]) for r in result.trace.of_kind("broker.append")]


def test_a_batching_relay_keeps_every_promise_and_the_commit_order_of_each_service() -> None:
    batch = run_scenario(small_scenario("broker.relay_publish=batch"))
    assert [v.invariant.id for v in check_run(batch) if v.violated] == []
    for service in {party for party, _ in publishes(batch)}:
        raised = [r.data["event_id"] for r in batch.trace.of_kind("event.raised") if r.party == service]
        appended = [event_id for party, event_id in publishes(batch) if party == service]
        assert appended == raised


def test_a_lost_publish_loses_the_whole_batch_which_is_published_again() -> None:
    lost = {"at": 0, "kind": "drop", "target": "publish", "duration": 0.0,
            "match": {"message_type": "SeatReservedEvent"}}
    result = run_scenario(small_scenario("broker.relay_publish=batch", faults=[lost]))
    unacked = {r.data["event_id"] for r in result.trace.of_kind("broker.publish_unacked")}
    assert len(unacked) >= 1
    assert unacked <= {event_id for _, event_id in publishes(result)}  # published again, not lost
    assert [v.invariant.id for v in check_run(result) if v.violated] == []
