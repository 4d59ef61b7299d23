"""Small runs for the metrics tests: the small scenario of ``tests/conftest.py`` with faults."""

from __future__ import annotations

from typing import Any

from concertsim.api import RunOutcome, run
from concertsim.metrics.records import RecordsByKind, records_by_kind
from tests.conftest import small_scenario


def small_run(*overrides: str, faults: list[dict[str, Any]] | None = None, **fields: Any) -> RunOutcome:
    """The small scenario, run with ``faults`` and ``--set``-style ``overrides``."""
    return run(small_scenario(*overrides, faults=faults or [], **fields))


def records_of(outcome: RunOutcome) -> RecordsByKind:
    return records_by_kind(outcome.result.trace)
