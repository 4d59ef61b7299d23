"""Retry and failure rates of calls and consumers."""

from __future__ import annotations

from tests.metrics.helpers import small_run

ONE_POINT_USE_REPLY_LOST = [
    {"at": 0, "kind": "drop", "target": "reply", "match": {"message_type": "point.use", "count": 1}},
]
GATEWAY_REPLIES_LOST = [
    {"at": 0, "kind": "drop", "target": "reply", "duration": 30, "match": {"source": "gateway", "rate": 0.2}},
]


def test_a_dropped_reply_shows_as_a_timeout_and_a_retry() -> None:
    calls = small_run(faults=ONE_POINT_USE_REPLY_LOST).metrics["reliability"]["calls"]
    use = calls["reservation"]["point.use"]
    assert use["callee"] == "point"
    assert (use["timeouts"], use["retries"], use["replies_lost"], use["requests_lost"]) == (1, 1, 1, 0)
    assert use["failures"] == {"timeout": 1}
    assert use["ok"] == use["calls"] - 1
    assert use["timeout_rate"] == use["retry_rate"] == round(1 / use["calls"], 4)
    others = [s for caller, endpoints in calls.items() for endpoint, s in endpoints.items()
              if (caller, endpoint) != ("reservation", "point.use")]
    assert sum(s["timeouts"] + s["retries"] for s in others) == 0


def test_client_retries_are_the_attempts_the_history_records() -> None:
    outcome = small_run(faults=GATEWAY_REPLIES_LOST)
    client = outcome.metrics["reliability"]["calls"]["client"]
    retried = sum(op.attempts - 1 for op in outcome.result.history)
    assert retried > 0
    assert sum(s["retries"] for s in client.values()) == retried
    assert sum(s["replies_lost"] for s in client.values()) == sum(s["timeouts"] for s in client.values()) > 0


def test_a_fault_free_run_has_no_timeout_and_no_retry() -> None:
    metrics = small_run().metrics["reliability"]
    calls = [s for endpoints in metrics["calls"].values() for s in endpoints.values()]
    assert sum(s["calls"] for s in calls) == small_run().metrics["messages"]["calls"]
    assert all(s["timeouts"] == s["retries"] == s["no_outcome"] == 0 for s in calls)
    for group in metrics["consumers"].values():
        assert group["handling_failures"] == group["redeliveries"] == group["dead_lettered"] == 0
