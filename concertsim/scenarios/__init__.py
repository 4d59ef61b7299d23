"""Scenario descriptions: the pydantic schema, the loader and the built-in scenario files."""

from concertsim.scenarios.loader import (
    DEFAULT_SCENARIO,
    ScenarioError,
    builtin_names,
    load_builtin,
    load_scenario,
)
from concertsim.scenarios.schema import Scenario

__all__ = [
    "DEFAULT_SCENARIO",
    "Scenario",
    "ScenarioError",
    "builtin_names",
    "load_builtin",
    "load_scenario",
]
