"""The metrics package keeps its public entry and the existing keys of ``summary.json``'s metrics."""

from __future__ import annotations

import json

from tests.metrics.helpers import small_run

EXISTING_KEYS = {
    "users", "funnel", "reservations", "points", "events", "client", "latency", "messages", "faults",
    "time", "trace_records",
}
NEW_KEYS = {"server_time", "event_processing", "staleness", "reliability", "resources", "series", "seat_cache", "point_storage", "broker", "replicas", "point_shift", "payment_sagas", "funnel_losses", "write_conflicts", "migration"}


def test_the_public_names_import_from_concertsim_metrics() -> None:
    from concertsim.metrics import MEASURES, compute_metrics, funnel, headline_measures, percentile

    assert callable(compute_metrics) and callable(funnel) and callable(headline_measures)
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert "latency_p95_ms" in MEASURES


def test_the_metrics_keep_their_keys_and_add_the_new_ones_as_strict_json() -> None:
    outcome = small_run()
    metrics = outcome.metrics
    assert set(metrics) == EXISTING_KEYS | NEW_KEYS
    assert metrics["events"]["handled"] > 0 and metrics["messages"]["calls"] > 0
    json.dumps({key: metrics[key] for key in NEW_KEYS}, allow_nan=False)
    json.dumps(outcome.summary()["metrics"])
