"""Simulated messages per wall second: concertsim against bare SimPy, in the same process.

A *message* is one synchronous call or one broker delivery (``call.send`` and ``broker.deliver``
records in the trace). The baselines move messages with bare SimPy in the same run:

- ``store``: a producer puts each message into a ``simpy.Store`` after a sampled latency
  (``env.timeout``) and a consumer takes it: one put, one timeout, one get per message;
- ``request/reply``: a client sends a request through one Store to a server with a ``Resource``
  worker pool, which waits a service time and answers through another Store; closer to what one
  simulated call does.

Usage: python bench/bench_messages.py [--scales 1,10,100] [--repeats 5,3,1] [--profile] [--memory]
       [--trace-mode memory|stream] [--spread | --steady [--held-calendar]] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import simpy

from concertsim.scenarios.loader import load_builtin
from concertsim.sim.run.runner import run_scenario

BASE_USERS, BASE_DATES, BASE_CAPACITY = 400, 3, 100
STEADY_RATE = 10 / 3
"""Users a second of ``--steady``: a quarter of the 1x flash crowd's rate (400 users in 30 s), below
what the waiting room of 100 lets in, so the line does not grow with the length of the run."""
STEADY_SEATS = 200
"""Seats per date of ``--steady``: three dates of 200 for every 400 users, more than they buy, so no
user meets a sold-out date at any scale."""
HELD_CALENDAR_EVERY = 200.0
"""Seconds between two openings of ``--steady --held-calendar``: three dates (600 seats) go on sale
every 200 s while users arrive, a little faster than the 2.5 seats a second they buy."""
CLOCK = time.perf_counter
"""What the runs are timed with: wall time, or with ``--clock cpu`` this process's CPU time (on a
shared machine, less disturbed by what else runs; both the baselines and concertsim use it)."""


def bare_store(messages: int, seed: int = 1) -> float:
    """Messages per second through a plain Store."""
    env = simpy.Environment()
    store = simpy.Store(env)
    rng = random.Random(seed)

    def producer():
        for n in range(messages):
            yield env.timeout(rng.expovariate(1000.0))
            yield store.put(n)

    def consumer():
        for _ in range(messages):
            yield store.get()

    env.process(producer())
    env.process(consumer())
    started = CLOCK()
    env.run()
    return messages / (CLOCK() - started)


def bare_request_reply(calls: int, seed: int = 1) -> float:
    """Messages per second for request/reply through Stores with a worker pool (2 per call)."""
    env = simpy.Environment()
    requests, replies = simpy.Store(env), simpy.Store(env)
    workers = simpy.Resource(env, capacity=8)
    rng = random.Random(seed)

    def serve(n):
        with workers.request() as worker:
            yield worker
            yield env.timeout(rng.expovariate(500.0))
        yield env.timeout(0.002)
        yield replies.put(n)

    def server():
        while True:
            n = yield requests.get()
            env.process(serve(n))

    def client():
        for n in range(calls):
            yield env.timeout(0.002)
            yield requests.put(n)
            yield replies.get()

    env.process(server())
    env.process(client())
    started = CLOCK()
    env.run()
    return 2 * calls / (CLOCK() - started)


def scaled(scale: int, spread: bool = False, steady: bool = False, held_calendar: bool = False):
    """The default scenario with ``scale`` times the users, and the system scaled with them (dates
    on sale, queue capacity, worker pools), so each user meets the same system as at 1x: any growth
    in cost per message is the simulator's, not a saturated system's. One thing does not scale:
    Queue keeps its state in one row, so ten times the users arriving in the same flash window
    conflict on it far more than ten times as often (a hot spot of the design, measured in
    bench/README). With ``spread`` the users arrive over ``scale`` times the flash window instead,
    at the 1x rate, and only the dates on sale grow with them: every user meets the 1x system.
    With ``steady`` they arrive one at a time at a held rate the waiting room keeps up with
    (:data:`STEADY_RATE`, a Poisson stream) and every date has seats to spare
    (:data:`STEADY_SEATS`), so a user does the same work at every scale (messages per user within
    a few per cent): what grows is the simulator's cost, and the number of dates listed. With
    ``held_calendar`` as well, that number is held too: the dates go on sale three at a time, every
    :data:`HELD_CALENDAR_EVERY` seconds while users arrive, so a user is shown a few dates at any
    scale."""
    base = load_builtin("ticket-opening")
    users = BASE_USERS * scale
    grown = [f"workload.users={users}", f"concerts.dates={BASE_DATES * scale}"]
    if steady:
        steady_arrivals = [
            "workload.arrival=steady", f"workload.rate_per_second={STEADY_RATE:g}",
            f"workload.duration={1.5 * users / STEADY_RATE:g}", f"concerts.seats_per_date={STEADY_SEATS}",
        ]
        if not held_calendar:
            return load_builtin("ticket-opening", [*grown, *steady_arrivals])
        dates = BASE_DATES * math.ceil(users / STEADY_RATE / HELD_CALENDAR_EVERY)
        openings = ", ".join(f"{d}: {(d - 1) // BASE_DATES * HELD_CALENDAR_EVERY:g}" for d in range(1, dates + 1))
        return load_builtin("ticket-opening", [
            f"workload.users={users}", f"concerts.dates={dates}", *steady_arrivals,
            f"concerts.opens_at_by_date={{{openings}}}",
        ])
    if spread:
        return load_builtin("ticket-opening", [*grown, f"workload.flash_window={base.workload.flash_window * scale:g}"])
    workers = [f"services.{name}.workers={getattr(base.services, name).workers * scale}"
               for name in ("gateway", "reservation", "point", "queue", "concert", "data_platform")]
    return load_builtin("ticket-opening", [*grown, f"rules.queue_capacity={BASE_CAPACITY * scale}", *workers])


def concertsim_run(
    scale: int, trace_mode: str = "memory", spread: bool = False, steady: bool = False, held_calendar: bool = False
) -> tuple[int, float]:
    """(messages, wall seconds) of one run of the default scenario at ``scale`` (the simulation only)."""
    scenario = scaled(scale, spread, steady, held_calendar)
    started = CLOCK()
    result = run_scenario(scenario, trace_mode=trace_mode)
    wall = CLOCK() - started
    messages = result.trace.by_kind()
    count = len(messages.get("call.send", ())) + len(messages.get("broker.deliver", ()))
    result.trace.close()
    return count, wall


def peak_memory_mib(
    scale: int, trace_mode: str = "memory", spread: bool = False, steady: bool = False, held_calendar: bool = False
) -> float:
    """The peak resident memory (MiB) of a fresh process that runs the scenario at ``scale`` once
    (the simulation and its checks, not the reports), as that process reports it."""
    # VmHWM, the process's own high-water mark, starts afresh at exec (ru_maxrss may keep the
    # forking parent's peak).
    code = ("import sys, bench_messages as b; from concertsim.checks import check_run; "
            "check_run(b.run_scenario(b.scaled(int(sys.argv[1]), sys.argv[3] == 'spread', sys.argv[3] in ('steady', 'held'), "
            "sys.argv[3] == 'held'), "
            "trace_mode=sys.argv[2])); "
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")
    arrivals = "spread" if spread else "held" if held_calendar else "steady" if steady else "scaled"
    done = subprocess.run([sys.executable, "-c", code, str(scale), trace_mode, arrivals], check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])})
    return int(done.stdout.split()[-1]) / 1024  # VmHWM is in kB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--repeats", default="5,3,1", help="runs per scale (median reported)")
    parser.add_argument("--baseline-messages", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true", help="also profile one 1x run")
    parser.add_argument("--memory", action="store_true",
                        help="also measure each scale's peak memory in a fresh process (MiB, and KiB per user)")
    parser.add_argument("--trace-mode", choices=("memory", "stream"), default="memory",
                        help="keep the whole trace in memory, or stream its high-volume kinds to disk")
    arrivals = parser.add_mutually_exclusive_group()
    arrivals.add_argument("--spread", action="store_true",
                          help="users arrive over scale times the flash window (the 1x arrival rate), so Queue's "
                               "single state row meets the same load at every scale")
    arrivals.add_argument("--steady", action="store_true",
                          help=f"users arrive one at a time at {STEADY_RATE:.2f} a second, dates with "
                               f"{STEADY_SEATS} seats: the same work per user at every scale")
    parser.add_argument("--held-calendar", action="store_true",
                        help=f"with --steady: dates go on sale three at a time every {HELD_CALENDAR_EVERY:g} s, "
                             "so a user is shown a few dates at every scale")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time the runs in wall seconds, or in this process's CPU seconds (a shared machine)")
    args = parser.parse_args()
    if args.held_calendar and not args.steady:
        parser.error("--held-calendar goes with --steady")
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    scales = [int(s) for s in args.scales.split(",")]
    repeats = [int(r) for r in args.repeats.split(",")]
    repeats += [repeats[-1]] * (len(scales) - len(repeats))

    print(f"python {platform.python_version()} on {platform.machine()}, simpy {simpy.__version__}, "
          f"{os.cpu_count()} cores, trace mode {args.trace_mode}{', arrivals spread' if args.spread else ''}{', steady arrivals' if args.steady else ''}{', held calendar' if args.held_calendar else ''}, "
          f"{args.clock} clock")
    store = statistics.median(bare_store(args.baseline_messages, seed) for seed in range(5))
    reply = statistics.median(bare_request_reply(args.baseline_messages // 2, seed) for seed in range(5))
    print(f"bare SimPy Store:         {store:12,.0f} msgs/s (median of 5)")
    print(f"bare SimPy request/reply: {reply:12,.0f} msgs/s (median of 5)")
    print()
    print(f"{'scale':>5} {'users':>7} {'messages':>10} {'per user':>8} {('cpu s' if args.clock == 'cpu' else 'wall s'):>8} "
          f"{'msgs/s':>10} {'x Store':>8} {'x req/rep':>9} {'ms/user':>8}")
    rows = []
    for scale, runs in zip(scales, repeats):
        samples = [concertsim_run(scale, args.trace_mode, args.spread, args.steady, args.held_calendar)
                   for _ in range(runs)]
        messages = samples[0][0]
        wall = statistics.median(w for _, w in samples)
        rate = messages / wall
        users = BASE_USERS * scale
        rows.append((users, wall))
        print(f"{scale:>5} {users:>7} {messages:>10,} {messages / users:>8.1f} {wall:>8.2f} {rate:>10,.0f} "
              f"{store / rate:>8.1f} {reply / rate:>9.1f} {1000 * wall / users:>8.2f}", flush=True)
    if len(rows) >= 2:
        mean_users = statistics.fmean(u for u, _ in rows)
        mean_wall = statistics.fmean(w for _, w in rows)
        slope = sum((u - mean_users) * (w - mean_wall) for u, w in rows) / sum((u - mean_users) ** 2 for u, _ in rows)
        print(f"\nwall time grows {1000 * slope:.2f} ms per user (least squares); "
              + ", ".join(f"wall({u2 // BASE_USERS}x)/wall({u1 // BASE_USERS}x) = {w2 / w1:.1f}"
                          for (u1, w1), (u2, w2) in zip(rows, rows[1:])))
    if args.memory:
        print(f"\n{'scale':>5} {'users':>7} {'peak MiB':>9} {'KiB/user':>9}")
        for scale in scales:
            peak = peak_memory_mib(scale, args.trace_mode, args.spread, args.steady, args.held_calendar)
            users = BASE_USERS * scale
            print(f"{scale:>5} {users:>7} {peak:>9.0f} {1024 * peak / users:>9.1f}", flush=True)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run_scenario, scaled(1))
        stats = pstats.Stats(profile)
        print("\nTop 25 by total time:")
        stats.sort_stats("tottime").print_stats(25)
        print("Top 25 by cumulative time:")
        stats.sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
