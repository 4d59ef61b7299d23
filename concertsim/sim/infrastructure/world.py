"""The World: one simulated universe, a pure function of (scenario, seed).

It owns the SimPy environment, the named random streams, the id counters and the trace. Everything
else in the runtime reaches time, randomness and identity through it, which is what makes a run
replayable: there is no wall clock, no ``uuid4`` and no global ``random`` anywhere below.
"""

from __future__ import annotations

import random
from typing import Any

import simpy

from concertsim.scenarios.schema import Scenario
from concertsim.sim.infrastructure.random_streams import RandomStreams
from concertsim.sim.infrastructure.trace import Trace

__all__ = ["World"]


class World:
    """Time, randomness, identity and the record of a run.

    ``rng(name)`` returns the stream ``name``; ``next_id(prefix)`` numbers ids per prefix from 1;
    ``record(...)`` appends a trace record stamped with the current simulated time.
    """

    def __init__(self, scenario: Scenario, seed: int, trace: Trace | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.env = simpy.Environment()
        self.trace = Trace() if trace is None else trace
        self.rng_streams = RandomStreams(seed)
        self._id_counters: dict[str, int] = {}

    @property
    def now(self) -> float:
        return self.env.now

    def rng(self, name: str) -> random.Random:
        return self.rng_streams(name)

    def next_id(self, prefix: str) -> str:
        n = self._id_counters.get(prefix, 0) + 1
        self._id_counters[prefix] = n
        return f"{prefix}-{n}"

    def record(self, kind: str, party: str, trace_id: str | None = None, /, **data: Any) -> None:
        self.trace.add(self.env._now, kind, party, trace_id, data)  # ``_now``: a property call less
