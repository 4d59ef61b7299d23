"""What a finished run holds in memory, by the line that allocated it (tracemalloc).

Runs the default scenario at ``scale`` (as ``bench_messages.py`` grows it) with the trace streamed,
collects garbage, and prints the live memory allocated during the run: the largest allocation
sites, then the total by file. The imports and the scenario are left out (tracing starts after
them); the interpreter's own overhead and fragmentation are not counted, so the total is below the
process's resident growth.

Usage: python bench/memory_census.py [--scale 10] [--trace-mode stream|memory] [--top 25]
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from collections import Counter

from bench_messages import scaled

from concertsim.sim.run.runner import run_scenario


def _where(filename: str) -> str:
    """A short name for a source file: within the package or site-packages where it is in one."""
    for marker in ("site-packages/", "concertsim/"):
        if marker in filename:
            return filename.split(marker)[-1]
    return filename


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="users = 400 x scale")
    parser.add_argument("--trace-mode", choices=("stream", "memory"), default="stream")
    parser.add_argument("--top", type=int, default=25, help="allocation sites to list")
    args = parser.parse_args()

    scenario = scaled(args.scale)
    users = scenario.workload.users
    tracemalloc.start(1)
    result = run_scenario(scenario, trace_mode=args.trace_mode)
    gc.collect()
    sites = tracemalloc.take_snapshot().statistics("lineno")
    tracemalloc.stop()
    total = sum(site.size for site in sites)
    print(f"{users:,} users, trace {args.trace_mode}: {total / 2**20:.1f} MiB live after the run, "
          f"{total / users / 1024:.1f} KiB per user")
    print(f"\n{'MiB':>7} {'blocks':>8}  allocated at")
    for site in sites[:args.top]:
        frame = site.traceback[0]
        print(f"{site.size / 2**20:7.2f} {site.count:8,}  {_where(frame.filename)}:{frame.lineno}")
    by_file: Counter[str] = Counter()
    for site in sites:
        by_file[_where(site.traceback[0].filename)] += site.size
    print(f"\n{'MiB':>7}  by file")
    for name, size in by_file.most_common(args.top):
        print(f"{size / 2**20:7.2f}  {name}")
    result.trace.close()


if __name__ == "__main__":
    main()
