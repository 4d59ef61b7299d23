"""concertsim: simulate the concert-booking microservices design and verify that it keeps its
promises under failure.

    >>> import concertsim
    >>> outcome = concertsim.run()            # the built-in ticket opening, its own seed
    >>> outcome.holds, outcome.violated
"""

from concertsim.api import RunOutcome, run
from concertsim.scenarios import Scenario, ScenarioError, load_scenario

__all__ = ["run", "RunOutcome", "Scenario", "ScenarioError", "load_scenario"]
__version__ = "0.1.0"
