"""Named random streams and distribution samplers.

Every random draw of a run comes from ``world.rng(name)``: a ``random.Random`` seeded from
(root seed, stream name) by SHA-256, so adding a draw to one stream never shifts another, and the
derivation does not depend on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable

from concertsim.scenarios.schema import Constant, Distribution, Exponential, LogNormal, Uniform

__all__ = ["derive_seed", "RandomStreams", "sampler"]


def derive_seed(root_seed: int, stream: str) -> int:
    """A 64-bit seed for ``stream``, stable across processes and Python versions."""
    digest = hashlib.sha256(f"{root_seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class RandomStreams:
    def __init__(self, root_seed: int) -> None:
        self.root_seed = root_seed
        self._streams: dict[str, random.Random] = {}

    def __call__(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = random.Random(derive_seed(self.root_seed, name))
        return stream


def sampler(distribution: Distribution, rng: random.Random) -> Callable[[], float]:
    """A function drawing from ``distribution`` with ``rng``; built once, called on the hot path."""
    if isinstance(distribution, Constant):
        value = distribution.value
        return lambda: value
    if isinstance(distribution, Exponential):
        rate = 1.0 / distribution.mean
        return lambda: rng.expovariate(rate)
    if isinstance(distribution, LogNormal):
        mu, sigma = math.log(distribution.median), distribution.sigma
        return lambda: rng.lognormvariate(mu, sigma)
    if isinstance(distribution, Uniform):
        low, high = distribution.low, distribution.high
        return lambda: rng.uniform(low, high)
    raise TypeError(f"unknown distribution {distribution!r}")
