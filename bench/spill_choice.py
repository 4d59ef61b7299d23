"""What spilling more kinds of a streamed trace would save, and what its checks would pay.

Runs the default scenario at ``--scale`` (as ``bench_messages.py`` grows it) with the trace
streamed, twice in fresh processes: once spilling :data:`SPILLED_KINDS`, once spilling ``--also``
too. For each it prints the records kept in memory, the process's peak resident memory
(``VmHWM``: the run, its checks and its hash), the CPU seconds of the run and of the checks, and
the trace's SHA-256 (the same: where a record lives does not change the trace).

Usage: python bench/spill_choice.py [--scale 10] [--also event.raised,broker.append,...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from concertsim.sim.infrastructure.spilled_trace import SPILLED_KINDS

KEPT_IN_MEMORY = "event.raised,broker.append,broker.deliver,consumer.handled,client.exit"
"""The kinds of a flash crowd's trace that stay in memory when streamed, most numerous first."""


def measure(scale: int, also: frozenset[str]) -> None:
    """In this process: one streamed run spilling ``also`` too; prints its figures on one line."""
    from bench_messages import run_scenario, scaled

    from concertsim.checks import check_run
    from concertsim.sim.infrastructure.spilled_trace import SpillingTrace
    from concertsim.sim.run import runner

    runner.SpillingTrace = partial(SpillingTrace, spilled=SPILLED_KINDS | also)  # type: ignore[misc]
    started = time.process_time()
    result = run_scenario(scaled(scale), trace_mode="stream")
    simulated = time.process_time()
    check_run(result)
    checked = time.process_time()
    digest = result.trace.sha256()
    status = Path("/proc/self/status").read_text(encoding="utf-8").splitlines()
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    kept = len(result.trace.records)
    print(f"{kept} {int(peak) / 1024:.1f} {simulated - started:.2f} {checked - simulated:.2f} {digest[:12]}")
    result.trace.close()


def in_fresh_process(scale: int, also: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, __file__, "--scale", str(scale), "--also", also, "--here"],
        check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])},
    )
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="users = 400 x scale")
    parser.add_argument("--also", default=KEPT_IN_MEMORY, help="comma-separated kinds to spill as well")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    also = frozenset(kind for kind in args.also.split(",") if kind)
    if args.here:
        measure(args.scale, also)
        return
    print(f"{400 * args.scale:,} users, trace streamed; spilled as well: {', '.join(sorted(also)) or 'nothing'}")
    print(f"{'spilled':<22} {'kept records':>12} {'peak MiB':>9} {'run CPU s':>10} {'checks CPU s':>13}  trace")
    for label, extra in (("the default kinds", ""), ("those and --also", ",".join(sorted(also)))):
        kept, peak, run, checks, digest = in_fresh_process(args.scale, extra)
        print(f"{label:<22} {int(kept):>12,} {peak:>9} {run:>10} {checks:>13}  {digest}…")


if __name__ == "__main__":
    main()
