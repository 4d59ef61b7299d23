"""Server-side time: from a request's arrival to its reply leaving the server, without the network."""

from __future__ import annotations

from concertsim.metrics.server_time import server_time
from tests.metrics.helpers import records_of, small_run

LATENCY = 0.01  # every message takes 10 ms
CONCERT_SERVICE = 0.003


def _constant(value: float) -> dict[str, object]:
    return {"kind": "constant", "value": value}


def test_server_time_is_the_service_time_for_an_endpoint_that_does_nothing_else() -> None:
    outcome = small_run(
        "workload.abandon_share=0",
        network={"latency": _constant(LATENCY)},
        services={"concert": {"service_time": _constant(CONCERT_SERVICE)}},
    )
    dates = outcome.metrics["server_time"]["concert"]["concert.dates"]
    assert dates["count"] == 40  # one listing per user
    assert dates["worker_wait_max_ms"] == 0.0
    assert dates["p50_ms"] == dates["max_ms"] == CONCERT_SERVICE * 1000


def test_client_latency_is_server_time_plus_the_network_both_ways() -> None:
    outcome = small_run(network={"latency": _constant(LATENCY)})
    metrics = outcome.metrics
    route = "GET /api/v1/concerts/dates"
    served = metrics["server_time"]["gateway"][route]
    seen = metrics["latency"][route]
    assert all(op.attempts == 1 for op in outcome.result.history if op.route == route)
    assert served["count"] == seen["count"]
    for name in ("p50_ms", "max_ms"):
        # Server times are rounded to the microsecond.
        assert abs(seen[name] - served[name] - 2 * LATENCY * 1000) < 0.001


def test_a_pool_too_small_for_the_load_shows_as_waiting_for_a_worker() -> None:
    outcome = small_run(services={"concert": {"workers": 1, "service_time": _constant(0.2)}})
    seats = outcome.metrics["server_time"]["concert"]["concert.dates"]
    assert seats["worker_wait_max_ms"] > 0
    assert seats["max_ms"] >= 200 + seats["worker_wait_max_ms"] - 1e-6


def test_a_trace_without_server_times_gives_no_server_time() -> None:
    records = records_of(small_run(workload={"users": 3}))
    for record in records["call.serve"]:
        record.data = {k: v for k, v in record.data.items() if k not in ("arrived_at", "started_at")}
    assert server_time(records) == {}
