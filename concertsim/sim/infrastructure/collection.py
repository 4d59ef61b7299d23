"""When the cyclic garbage collector runs while a large run is simulated or read.

A run allocates millions of short-lived objects while it keeps millions of others (its trace, its
tables) to the end, and reading a finished run does the same: records are read back, indexed,
counted and let go. With the default thresholds the collector then walks everything kept again and
again, and finds next to nothing: records, rows and events are freed by their reference counts, not
by the collector. :func:`rare_collection` makes its passes rare for the span of such work.

The price is memory: what a run leaves as cyclic garbage once it is over (its environment,
processes and hosts, by then in the oldest generation) waits for the next full pass instead of
being freed during the checks (6 MiB at 4,000 users; bench/README.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["rare_collection", "RARE_THRESHOLDS"]

RARE_THRESHOLDS = (100_000, 50, 1000)
"""A young pass every 100,000 allocations (not 700), an older one every 50 of those (not 10), the
oldest practically never (measured: 17.6 s instead of 10.7 s for a run at 10x users with the
defaults; a 20,000-user run's checks, metrics and report spent a third of their time in full
passes)."""


@contextmanager
def rare_collection() -> Iterator[None]:
    """Run the body (or, as a decorator, the function) with :data:`RARE_THRESHOLDS`, restoring the
    thresholds it found; nested uses keep the rare ones until the outermost ends."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*RARE_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
