"""Run metrics: counts, latency percentiles, server-side time, event processing, read-model
staleness, retry and failure rates and convergence, computed from a run's records.

:func:`compute_metrics` is the ``metrics`` of ``summary.json``; :func:`headline_measures` picks
the numbers that runs over many seeds are compared and aggregated by (``compare``, ``sweep``).
One module per job: ``summary`` (compute_metrics), ``funnel``, ``headline``, ``server_time``,
``event_processing``, ``staleness`` with ``lag_series``, ``reliability``, ``write_conflicts``; ``distribution`` and
``records`` are what they share."""

from __future__ import annotations

from concertsim.metrics.distribution import percentile
from concertsim.metrics.funnel import funnel
from concertsim.metrics.headline import MEASURE_DOMAINS, MEASURES, RATIO_DENOMINATORS, headline_measures
from concertsim.metrics.summary import compute_metrics

__all__ = ["compute_metrics", "headline_measures", "MEASURES", "MEASURE_DOMAINS", "RATIO_DENOMINATORS",
           "percentile", "funnel"]
