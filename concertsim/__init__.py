"""concertsim: simulate the concert-booking microservices design and verify that it keeps its
promises under failure.

    >>> import concertsim
    >>> outcome = concertsim.run()            # the built-in ticket opening, its own seed
    >>> outcome.holds, outcome.violated

The names below are imported on first use, so ``import concertsim`` (and the command line's first
instant, when Ctrl-C must already be a clean exit) costs nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concertsim.api import RunOutcome, run
    from concertsim.scenarios import Scenario, ScenarioError, load_scenario

__all__ = ["run", "RunOutcome", "Scenario", "ScenarioError", "load_scenario"]
__version__ = "0.1.0"

_HOMES = {
    "run": "concertsim.api",
    "RunOutcome": "concertsim.api",
    "Scenario": "concertsim.scenarios",
    "ScenarioError": "concertsim.scenarios",
    "load_scenario": "concertsim.scenarios",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'concertsim' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
