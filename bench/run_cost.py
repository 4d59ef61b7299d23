"""The run cost estimate (``concertsim.sim.run.cost``) against measured runs.

Each case runs twice, each time in a fresh process: ``run_scenario`` and the checks, to count the
trace records and time the simulation; then the whole ``concertsim run`` (files and reports
included), whose peak resident memory and wall time the estimate stands for. Prints a table of
estimate against measurement.

    python bench/run_cost.py                      # the default cases, about 6 minutes on one core
    python bench/run_cost.py --case ticket-opening:5000:rules.queue_capacity=5000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from concertsim.scenarios.loader import load_builtin  # noqa: E402
from concertsim.sim.run.cost import estimate_run_cost  # noqa: E402

CASES = [
    "ticket-opening:400",
    "ticket-opening:1000",
    "ticket-opening:3000",
    "ticket-opening:400:rules.queue_capacity=400",
    "ticket-opening:3000:rules.queue_capacity=3000",
    "ticket-opening:20000:rules.queue_capacity=20000",
    "big-flash-crowd:400",
    "big-flash-crowd:3000",
    "big-flash-crowd:20000",
    "steady-state:400",
]

_MEASURE = """
import json, resource, sys, time
from concertsim.checks import check_run
from concertsim.scenarios.loader import load_builtin
from concertsim.sim.run.runner import run_scenario
name, overrides = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
result = run_scenario(load_builtin(name, overrides))
check_run(result)
print(json.dumps({"records": len(result.trace.lines()), "seconds": time.perf_counter() - started,
                  "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def parse(case: str) -> tuple[str, list[str]]:
    name, users, *more = case.split(":")
    return name, [f"workload.users={users}", *more]


def measure(name: str, overrides: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _MEASURE, name, *overrides], capture_output=True, text=True, env=env,
                          check=True)
    return json.loads(done.stdout)


_MEASURE_CLI = """
import json, resource, sys, time
from concertsim.cli import main
sys.argv = ["concertsim", *sys.argv[1:]]
started = time.perf_counter()
try:
    main()
except SystemExit:
    pass
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def measure_cli(name: str, overrides: list[str]) -> tuple[float, float]:
    """Wall seconds and peak bytes of ``concertsim run`` (reports included)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sets = [item for override in overrides for item in ("--set", override)]
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE_CLI, "run", name, *sets, "--allow-large", "--quiet", "--out", f"{folder}/out"],
            env=env, capture_output=True, text=True, check=True,
        )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return measured["seconds"], measured["peak_bytes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="NAME:USERS[:KEY=VALUE...]; repeatable")
    options = parser.parse_args()
    print("| scenario | users | records est. / measured | peak memory est. / measured | time est. / measured | "
          "of which simulation and checks |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in options.case or CASES:
        name, overrides = parse(case)
        estimate = estimate_run_cost(load_builtin(name, overrides))
        measured = measure(name, overrides)
        seconds, peak = measure_cli(name, overrides)
        label = name + "".join(f" {o}" for o in overrides[1:])
        print(
            f"| {label} | {estimate.users:,} | {estimate.records:,} / {int(measured['records']):,} "
            f"({estimate.records / measured['records']:.2f}×) | {estimate.memory_bytes / 2**20:,.0f} / "
            f"{peak / 2**20:,.0f} MB ({estimate.memory_bytes / peak:.2f}×) | "
            f"{estimate.wall_seconds:,.1f} / {seconds:,.1f} s ({estimate.wall_seconds / seconds:.2f}×) | "
            f"{measured['seconds']:,.1f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
