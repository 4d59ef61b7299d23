"""Where a large run's wall time goes: the ticket opening of the capacity question, phase by phase.

The opening of ``bench/README.md`` ("does the queue hold a 100,000-user opening?"): ``users``
arriving within 120 s on 20 dates of 500 seats, a waiting room of 5,000, the trace streamed to
disk. Each phase of ``concertsim run`` is timed in turn with the wall clock: the simulation, the
checks, the metrics, the trace's hash and JSONL file, ``summary.json``, and the report with its
figures (written to a temporary folder, removed at the end). A trace this large is serialized and
hashed in another process from the simulation's end on, so its phase is the wait for that process
once the checks and metrics are done; ``--hash-here`` makes it in this process after them, as a
smaller trace's is.

Usage: python bench/large_run_phases.py [users] [--hash-here]   (default 100000: about 3 minutes, 1.2 GB)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.run.report import write_run_report
from concertsim.scenarios.loader import load_builtin
from concertsim.sim.infrastructure import spilled_trace
from concertsim.sim.run.runner import run_scenario


def main() -> None:
    words = [word for word in sys.argv[1:] if word != "--hash-here"]
    users = int(words[0]) if words else 100_000
    if "--hash-here" in sys.argv[1:]:
        spilled_trace.SERIALIZED_AHEAD_FROM = sys.maxsize
    scenario = load_builtin("ticket-opening", [
        f"workload.users={users}", "workload.flash_window=120", "concerts.dates=20",
        "concerts.seats_per_date=500", "rules.queue_capacity=5000",
    ])
    folder = Path(tempfile.mkdtemp(prefix="large-run-"))
    phases: list[tuple[str, float]] = []
    started = time.perf_counter()

    def done(phase: str) -> None:
        nonlocal started
        now = time.perf_counter()
        phases.append((phase, now - started))
        print(f"{phase:<24} {now - started:8.1f} s", flush=True)
        started = now

    try:
        result = run_scenario(scenario, trace_mode="stream")
        done("simulation")
        outcome = RunOutcome(result, check_run(result))
        done("checks")
        outcome.metrics
        done("metrics")
        result.trace_sha256
        done("hash and trace file")
        output = OutputDir(folder).prepare()
        output.write_json("summary.json", outcome.summary())
        output.write_bytes_with("trace.jsonl", result.trace.write_jsonl)
        done("summary and trace.jsonl")
        write_run_report(output, outcome)
        done("report and figures")
        print(f"{'total':<24} {sum(seconds for _, seconds in phases):8.1f} s  ({len(result.trace):,} trace records)")
        result.trace.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
