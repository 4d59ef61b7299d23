"""Shared test helpers: small scenarios that run in well under a second."""

from __future__ import annotations

from typing import Any

import pytest

from concertsim.scenarios.loader import scenario_from_data
from concertsim.scenarios.schema import Scenario

SMALL: dict[str, Any] = {
    "name": "small",
    "concerts": {"dates": 2, "seats_per_date": 10},
    "rules": {"hold_ttl": 30, "queue_capacity": 20, "token_idle_ttl": 30},
    "workload": {"users": 40, "flash_window": 5, "duration": 60, "think_time": {"kind": "exponential", "mean": 3}},
    "settle": {"deadline": 300},
}


def small_scenario(*overrides: str, **fields: Any) -> Scenario:
    """The small scenario with ``--set``-style overrides."""
    data = {**SMALL, **fields}
    return scenario_from_data(data, "small", overrides)


@pytest.fixture
def small() -> Scenario:
    return small_scenario()


# Hypothesis profiles: CI is fixed and bounded so a green build stays green (the profile the
# pytest plugin ships, concertsim-ci); "explore" searches wide. Choose with
# HYPOTHESIS_PROFILE=explore; long searches belong to `concertsim explore`. Both draw through
# concertsim's backend, which does not mine constants from "local" modules, so a test generates
# the same examples from a checkout and from an installed copy. The plugin's own choice of profile
# is switched off in pyproject.toml (concertsim_hypothesis_profile = none) so that this one holds.
from hypothesis import settings  # noqa: E402

from concertsim.pytest_plugin import CI_PROFILE  # noqa: E402
from concertsim.search.provider import BACKEND  # noqa: E402

settings.register_profile("explore", backend=BACKEND, max_examples=2000, deadline=None, print_blob=True)
settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", CI_PROFILE))
