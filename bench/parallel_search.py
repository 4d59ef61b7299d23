"""Examples per second of `explore` on 1 and on N worker processes, in the same run.

The full design (nothing to find, so every search spends its whole budget) is searched with
``-n EXAMPLES`` on one process and on ``--workers`` processes, ``--repeats`` times each,
alternating; prints the median examples per second of each and their ratio (the speed-up), and
checks that both found the same examples.

Usage: python bench/parallel_search.py [--examples 400] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from concertsim.exploration import explore
from concertsim.search import rounds
from concertsim.strategies import small_base


def examples_per_second(examples: int, workers: int) -> tuple[float, list[str]]:
    rounds._known.clear()  # a verdict remembered from the previous repeat would cost nothing
    started = time.perf_counter()
    found = explore(small_base(), examples=examples, seed=0, workers=workers)
    return found.generated / (time.perf_counter() - started), found.example_digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates: dict[int, list[float]] = {1: [], args.workers: []}
    trails: dict[int, list[str]] = {}
    for _ in range(args.repeats):
        for workers in rates:
            rate, trail = examples_per_second(args.examples, workers)
            rates[workers].append(rate)
            trails[workers] = trail
    one, many = statistics.median(rates[1]), statistics.median(rates[args.workers])
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"-n {args.examples}, median of {args.repeats}")
    print(f"1 worker:   {one:6.1f} examples/s  (runs: {', '.join(f'{r:.1f}' for r in rates[1])})")
    print(f"{args.workers} workers:  {many:6.1f} examples/s  (runs: "
          f"{', '.join(f'{r:.1f}' for r in rates[args.workers])})")
    print(f"speed-up:   {many / one:.2f}x; same examples: {trails[1] == trails[args.workers]}")


if __name__ == "__main__":
    main()
