"""What a run will cost before it runs: trace records, memory and wall time, from the scenario alone.

A run keeps every trace record in memory (ARCHITECTURE.md, "Trace"), or, with ``--trace-mode
stream``, the few kinds the checks read across the whole trace
(:mod:`~concertsim.sim.infrastructure.spilled_trace`); either way its memory and its time grow with the number of
records, and the records with what the users do. Two kinds of work
dominate:

- **sessions**: each user's token, dates, seats, hold and payment, about
  :data:`RECORDS_PER_USER` records (fewer once the dates are sold out);
- **polling**: a user the waiting room does not let in at once asks for its token's status every
  ``workload.poll_interval`` seconds until activated or out of ``workload.patience``; one poll is
  a client call and a gateway call, :data:`RECORDS_PER_POLL` records. Under a flash crowd far
  larger than ``rules.queue_capacity`` this term is nearly everything: 1,000,000 users at a
  waiting room of 100 would poll about 300 million times.

The waiting room admits about ``queue_capacity / (poll_interval + activation_interval)`` users per
second once the seats are gone (a user who finds nothing to buy gives the token back as soon as
their next poll has told them they are in), so the ``k``-th waiting user waits about ``k / rate``
seconds, capped by ``patience``. Calibrated against measured
runs (``bench/run_cost.py``; figures in ``bench/README.md``, "Run cost estimate"): within a factor
of two of the measured records, memory and time for the built-in shapes from 400 to 20,000 users,
and high where a service overloaded at the door (worker pools of 2, a hot queue row) turns users
away with timeouts before they ever poll. It is low, by up to about three times, where the users
are let in and then overload the services behind the door: their calls time out and are retried
(:data:`COMFORTABLE_SHARE` allows for it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from concertsim.scenarios.schema import Scenario
from concertsim.sim.infrastructure.trace import TraceMode

__all__ = [
    "RunCost",
    "RunTooLarge",
    "estimate_run_cost",
    "refuse_if_too_large",
    "chosen_trace_mode",
    "COMFORTABLE_SHARE",
    "KEPT_RUN_BYTES",
    "RECORDS_PER_USER",
    "RECORDS_PER_POLL",
    "BYTES_PER_RECORD",
    "STREAMED_BYTES_PER_RECORD",
    "BASE_BYTES",
    "SECONDS_PER_RECORD",
    "STREAMED_SECONDS_PER_RECORD",
    "BASE_SECONDS",
    "LARGE_RUN_MEMORY",
    "available_memory",
    "resident_memory",
    "memory_limit",
    "format_bytes",
    "format_seconds",
]

RECORDS_PER_USER = 50
"""Trace records of one user's session (measured: 35 to 110 on the built-in shapes)."""
RECORDS_PER_POLL = 6
"""Trace records of one token-status poll: two calls of three records (measured: 6.0)."""
BYTES_PER_RECORD = 600
"""Peak memory of ``concertsim run`` per trace record: the records, the run's other state and the
trace's JSON lines written at the end (measured: 560 to 760 bytes)."""
STREAMED_BYTES_PER_RECORD = 200
"""The same with ``--trace-mode stream``, where about nine records in ten are on disk (measured: 195
bytes at 4,000 users, 84 at 100,000 users whose calls time out: the more calls, the less a record
costs in memory)."""
BASE_BYTES = 100 * 2**20
"""The interpreter, concertsim and its libraries, matplotlib included (measured: 130 to 160 MB
for a run of a few hundred users)."""
BASE_SECONDS = 2.0
"""Start-up, figures and reports of any run (measured: 1.5 to 3 s for a run of a few hundred users)."""
SECONDS_PER_RECORD = 20e-6
"""``concertsim run`` on one core: simulation, checks, files and reports (measured: 22 to 36
microseconds per record on a shared 2-core machine; the simulation alone is about half)."""
STREAMED_SECONDS_PER_RECORD = 50e-6
"""The same with ``--trace-mode stream``: after the simulation, the checks, metrics, hash and
report read the spilled records back from disk, several times (measured on a shared 2-core
machine: 68 microseconds per record for the 100,000-user opening, 80 for the 10,000-user one;
``bench/README.md``, "After the simulation")."""


LARGE_RUN_MEMORY = 4 * 2**30
"""Runs estimated to need more memory than this (4 GiB), or more than the machine has available,
are refused unless the user insists (``--allow-large``)."""


def available_memory() -> int | None:
    """Bytes of memory available to a new process now (Linux ``MemAvailable``), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def resident_memory() -> int | None:
    """Bytes of memory this process holds now (Linux ``/proc/self/statm``), or None if unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def memory_limit() -> int:
    """The most memory a run may be estimated to need without ``--allow-large``:
    :data:`LARGE_RUN_MEMORY` or the memory available now, whichever is less."""
    available = available_memory()
    return LARGE_RUN_MEMORY if available is None else min(LARGE_RUN_MEMORY, available)


@dataclass(frozen=True)
class RunCost:
    """The estimated size of one run. ``waiting_users`` is how many users the model
    expects to wait in the queue, ``polls`` how many status polls they send."""

    users: int
    waiting_users: int
    polls: int
    records: int
    memory_bytes: int
    wall_seconds: float

    def describe(self) -> str:
        """One line: users, records, memory and time."""
        waiting = f", {self.waiting_users:,} of them waiting in the queue ({self.polls:,} polls)" if self.polls else ""
        return (
            f"{self.users:,} users{waiting}: about {self.records:,} trace records, "
            f"{format_bytes(self.memory_bytes)} of memory and {format_seconds(self.wall_seconds)} to run"
        )


def estimate_run_cost(scenario: Scenario, *, streamed: bool = False) -> RunCost:
    """The estimated cost of running ``scenario`` once (see the module's docstring), ``streamed``
    with ``--trace-mode stream``."""
    workload, rules = scenario.workload, scenario.rules
    if workload.arrival == "flash_crowd":
        users = workload.users
        arrivals_span = workload.flash_window
    else:
        users = min(workload.users, int(workload.rate_per_second * workload.duration) + 1)
        arrivals_span = workload.duration
    admission_rate = rules.queue_capacity / (workload.poll_interval + rules.activation_interval)
    admitted_while_arriving = admission_rate * arrivals_span
    waiting = max(0, int(users - rules.queue_capacity - admitted_while_arriving))
    polls = _polls(waiting, admission_rate, workload.patience, workload.poll_interval)
    records = RECORDS_PER_USER * users + RECORDS_PER_POLL * polls
    return RunCost(
        users=users,
        waiting_users=waiting,
        polls=polls,
        records=records,
        memory_bytes=BASE_BYTES + (STREAMED_BYTES_PER_RECORD if streamed else BYTES_PER_RECORD) * records,
        wall_seconds=BASE_SECONDS + (STREAMED_SECONDS_PER_RECORD if streamed else SECONDS_PER_RECORD) * records,
    )


COMFORTABLE_SHARE = 0.25
"""A run's whole trace fits comfortably in memory while the estimate of the run with it there is
at most this share of :func:`memory_limit`. A quarter, because the estimate can be low by up to
about three times where the admitted users overload the services: their calls time out and are
retried, which the estimate does not count (measured for the capacity question's opening, 5,000
admitted users on 8-worker services: 2.8 times the memory estimated at 20,000 users, 2.3 times at
60,000; bench/README.md, "Run cost estimate"), and the machine is shared with the reports, the
figures and whatever else runs. Streaming costs some time, never results: the default opening
at 7,000 users, which this share moves, ran in 41 and 53 s streamed against 38 and 44 s in memory
(another job on the second core, where a large streamed trace is hashed), in 0.21 GB instead of
1.35; the two overloaded openings ran faster streamed."""


def chosen_trace_mode(scenario: Scenario, requested: str = "auto") -> TraceMode:
    """The trace mode a run of ``scenario`` takes: ``requested`` if it names one (``memory`` or
    ``stream``); for ``auto``, ``stream`` if the run estimated with its whole trace in memory would
    need more than :data:`COMFORTABLE_SHARE` of :func:`memory_limit`, else ``memory``. Both give the
    same results (the same trace, byte for byte); a streamed run reads its records back from disk
    for the checks and reports, more slowly and in about a third of the memory."""
    if requested == "memory" or requested == "stream":
        return requested
    needed = estimate_run_cost(scenario).memory_bytes
    return "stream" if needed > COMFORTABLE_SHARE * memory_limit() else "memory"


class RunTooLarge(Exception):
    """A run estimated to need more memory than :func:`memory_limit` allows. ``cost`` is the
    estimate of one run, ``needed`` the memory of ``at_once`` such runs, ``limit`` the limit. The
    message states the estimate; each front end adds its own advice (an option, an argument)."""

    def __init__(self, name: str, cost: RunCost, needed: int, limit: int, at_once: int, kept_runs: int = 0) -> None:
        together = f" with {at_once} runs at once" if at_once > 1 else ""
        if kept_runs:
            together += f" and the summaries of {kept_runs:,} runs ({format_bytes(KEPT_RUN_BYTES * kept_runs)})"
        self.estimate = (
            f"estimated {cost.describe()}{together}; the limit is {format_bytes(limit)} "
            "(4 GiB or the memory available, whichever is less)"
        )
        super().__init__(f"{name}: too large to run: {self.estimate}")
        self.name, self.cost, self.needed, self.limit, self.at_once = name, cost, needed, limit, at_once
        self.kept_runs = kept_runs


KEPT_RUN_BYTES = 4096
"""Memory a sweep, a comparison or a migration keeps per finished run (its summary: verdicts,
headline measures, probes): 3.5 KB measured over 1,000 runs of a 2-user ``small-opening`` sweep
(peak resident memory of 100 and 1,100 seeds)."""


def refuse_if_too_large(
    scenario: Scenario, *, streamed: bool = False, at_once: int = 1, kept_runs: int = 0
) -> RunCost:
    """The estimated cost of ``scenario``; raises :class:`RunTooLarge` if ``at_once`` such runs,
    and the summaries of ``kept_runs`` finished runs a sweep keeps, would need more memory than
    :func:`memory_limit`. Every entry point that starts runs (the command line,
    :func:`concertsim.run`, the pytest fixture) asks this first."""
    cost = estimate_run_cost(scenario, streamed=streamed)
    limit = memory_limit()
    needed = cost.memory_bytes * at_once + KEPT_RUN_BYTES * kept_runs
    if needed > limit:
        raise RunTooLarge(scenario.name, cost, needed, limit, at_once, kept_runs)
    return cost


def _polls(waiting: int, admission_rate: float, patience: float, poll_interval: float) -> int:
    """Sum over the waiting users k = 1..waiting of min(k / rate, patience) / poll_interval."""
    if waiting <= 0:
        return 0
    patient = min(waiting, int(patience * admission_rate))
    seconds = patient * (patient + 1) / 2 / admission_rate + (waiting - patient) * patience
    return int(seconds / poll_interval)


def format_bytes(count: float) -> str:
    """``count`` bytes as "850 MB", "12.3 GB"."""
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if count >= size:
            value = count / size
            return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{count / 2**10:,.0f} kB"


def format_seconds(seconds: float) -> str:
    """``seconds`` as "40 s", "12 min", "3.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"
