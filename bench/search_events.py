"""What the simulated events of a search's examples are: each event counted by what it wakes.

Runs ``explore`` on the full design of small-opening (``-n EXAMPLES``, seed 0, one worker) and
counts every event the runs process, by the event's class and by what its first callback resumes:
the innermost two generators of a waiting process (``Host.transact>Database.commit``: a commit's
latency inside a request's transaction), or the function a callback calls
(``Network._arrive``: a request reaching its callee). Prints the events per example and each
label's share, largest first. The counting replaces ``event_budget``'s ``heappop`` for the span of
the search; the runs and their verdicts are the same.

Usage: python bench/search_events.py [--examples 100] [--top 30]
"""

from __future__ import annotations

import argparse
import heapq
from collections import Counter
from collections.abc import Callable
from typing import Any

from concertsim.exploration import explore
from concertsim.search import rounds
from concertsim.sim.run import event_budget
from concertsim.strategies import small_base


def woken(callback: Callable[..., Any]) -> str:
    """What ``callback`` resumes: a process's innermost two generators, or a function's name."""
    process = getattr(callback, "__self__", None)
    generator = getattr(process, "_generator", None)
    if generator is not None:
        chain = []
        while generator is not None:
            chain.append(getattr(generator, "__qualname__", type(generator).__name__))
            generator = getattr(generator, "gi_yieldfrom", None)
        return ">".join(chain[-2:])
    function = getattr(callback, "func", callback)  # a functools.partial's function
    return getattr(function, "__qualname__", type(function).__name__)


def count_events(examples: int) -> tuple[Counter[tuple[str, str]], int]:
    """(events by (class, what they wake), examples simulated) of ``explore -n examples``."""
    counts: Counter[tuple[str, str]] = Counter()

    def counting_pop(queue: list[Any]) -> Any:
        entry = heapq.heappop(queue)
        event = entry[3]
        callbacks = event.callbacks or ()
        counts[type(event).__name__, woken(callbacks[0]) if callbacks else "-"] += 1
        return entry

    rounds._known.clear()  # every example simulated, none remembered from an earlier search
    event_budget.heappop = counting_pop  # type: ignore[attr-defined]
    try:
        found = explore(small_base(), examples=examples, seed=0, workers=1)
    finally:
        event_budget.heappop = heapq.heappop  # type: ignore[attr-defined]
    return counts, len(set(found.example_digests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--top", type=int, default=30, help="labels to list")
    args = parser.parse_args()
    counts, simulated = count_events(args.examples)
    total = sum(counts.values())
    print(f"{total:,} events in {simulated} distinct examples: {total / simulated:,.0f} an example")
    print(f"\n{'share':>6} {'events':>9}  event  wakes")
    for (kind, wakes), n in counts.most_common(args.top):
        print(f"{n / total:6.1%} {n:9,}  {kind:<12} {wakes}")


if __name__ == "__main__":
    main()
