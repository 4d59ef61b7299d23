"""Does a simulated service queue the way queueing theory says it must?

A service host of concertsim (its worker pool and sampled service times, ``sim/hosting/host.py``) is fed
Poisson arrivals with exponential service times and ``c`` workers: an M/M/c queue, whose mean
time in system Erlang's C formula gives exactly. Two such services in series form a Jackson
tandem, whose stations behave as independent M/M/c queues (product form), so the mean time
through both is the sum. Little's law (L = λW) ties the time-average number of requests in the
system to the mean time in it.

Each configuration runs ``--replications`` independent replications (seeds 1..R), each
``--customers`` requests after a warm-up of ``--warmup`` requests; a replication's mean is one
observation, so the 95% interval over replications is honest despite the autocorrelation inside
a run (a single long run at utilisation 0.9 can be 10% off). The check: the formula lies inside
the interval and the half-width is at most 3% of the estimate.

Usage: python bench/queueing_validation.py [--utilisations 0.5,0.7,0.9,0.95] [--workers 8]
       [--replications 30] [--customers 40000] [--warmup 4000]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from concertsim.scenarios.loader import load_builtin
from concertsim.scenarios.schema import Exponential, ServiceSpec
from concertsim.sim.hosting.host import Host
from concertsim.sim.infrastructure.network import Ok, Reply
from concertsim.sim.infrastructure.world import World
from concertsim.statistics import Interval, mean_interval

MEAN_SERVICE = 0.004
"""Seconds: the default service time of a concertsim service (its median, 4 ms)."""


def erlang_c(workers: int, offered: float) -> float:
    """The probability that an arrival waits in M/M/c with ``offered`` = λ/μ erlangs."""
    rho = offered / workers
    top = offered ** workers / math.factorial(workers) / (1 - rho)
    return top / (sum(offered ** k / math.factorial(k) for k in range(workers)) + top)


def mmc_time_in_system(workers: int, utilisation: float, mean_service: float) -> float:
    """Mean time in system of M/M/c at ``utilisation`` = λ/(cμ)."""
    mu = 1 / mean_service
    arrival_rate = utilisation * workers * mu
    waiting = erlang_c(workers, arrival_rate / mu) / (workers * mu - arrival_rate)
    return waiting + mean_service


@dataclass(frozen=True)
class Replication:
    mean_time_in_system: float
    mean_in_system: float
    """Time-average number of requests in the system over the measured window."""
    arrival_rate: float
    """Measured arrivals per second over the measured window."""


def _quick_handler(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    yield from ()
    return Ok({})


def replicate(
    *, workers: int, utilisation: float, stations: int, customers: int, warmup: int, seed: int,
    mean_service: float = MEAN_SERVICE,
) -> Replication:
    """One replication: ``warmup + customers`` Poisson arrivals through ``stations`` services in
    series, each with ``workers`` workers and exponential service; measures the requests that
    arrive after the warm-up."""
    scenario = load_builtin("ticket-opening")
    world = World(scenario, seed)
    spec = ServiceSpec(workers=workers, service_time=Exponential(mean=mean_service))
    hosts = [Host(world, f"station-{n}", spec, None) for n in range(stations)]
    for host in hosts:
        host.endpoints["work"] = _quick_handler
    env = world.env
    arrivals = world.rng("arrivals")
    rate = utilisation * workers / mean_service
    times: list[float] = []
    in_system, area, window_start, last_change = 0, 0.0, None, 0.0
    window_end: list[float] = []

    def count(delta: int) -> None:
        nonlocal in_system, area, last_change
        if window_start is not None and not window_end:
            area += in_system * (env.now - max(last_change, window_start))
        in_system += delta
        last_change = env.now

    def request(measured: bool) -> Generator[simpy.Event, Any, None]:
        arrived = env.now
        count(+1)
        for host in hosts:
            yield from host.serve("work", {}, None, "c")
        count(-1)
        if measured:
            times.append(env.now - arrived)
            if len(times) == customers:
                window_end.append(env.now)

    def source() -> Generator[simpy.Event, Any, None]:
        nonlocal window_start
        for n in range(warmup + customers):
            yield env.timeout(arrivals.expovariate(rate))
            if n == warmup:
                count(0)
                window_start = env.now
            env.process(request(n >= warmup))

    env.process(source())
    env.run()
    assert window_start is not None and window_end
    span = window_end[0] - window_start
    return Replication(sum(times) / len(times), area / span, customers / span)


@dataclass(frozen=True)
class Check:
    label: str
    expected: float
    measured: Interval
    littles_gap: float
    """Relative gap between the time-average number in system and λW (Little's law)."""

    @property
    def inside(self) -> bool:
        return self.measured.low <= self.expected <= self.measured.high

    @property
    def relative_half_width(self) -> float:
        return self.measured.half_width / self.measured.estimate


def validate(
    *, workers: int, utilisation: float, stations: int, replications: int, customers: int, warmup: int,
) -> Check:
    runs = [replicate(workers=workers, utilisation=utilisation, stations=stations, customers=customers,
                      warmup=warmup, seed=seed) for seed in range(1, replications + 1)]
    measured = mean_interval([r.mean_time_in_system for r in runs])
    assert measured is not None
    expected = stations * mmc_time_in_system(workers, utilisation, MEAN_SERVICE)
    littles = [abs(r.mean_in_system - r.arrival_rate * r.mean_time_in_system) / r.mean_in_system for r in runs]
    label = f"M/M/{workers}" if stations == 1 else f"{stations} × M/M/{workers} in tandem"
    return Check(label, expected, measured, max(littles))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utilisations", default="0.5,0.7,0.9,0.95")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--replications", type=int, default=30)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--warmup", type=int, default=4_000)
    args = parser.parse_args()
    print(f"mean service {MEAN_SERVICE * 1000:.0f} ms, exponential; {args.replications} replications of "
          f"{args.customers:,} requests after {args.warmup:,} warm-up\n")
    print("| queue | utilisation | formula (ms) | simulated (ms, 95% CI) | half-width | formula inside | Little's law gap (max) | wall s |")
    print("|---|---:|---:|---:|---:|:---:|---:|---:|")
    failures = 0
    for stations in (1, 2):
        for utilisation in (float(u) for u in args.utilisations.split(",")):
            started = time.perf_counter()
            check = validate(workers=args.workers, utilisation=utilisation, stations=stations,
                             replications=args.replications, customers=args.customers, warmup=args.warmup)
            ok = check.inside and check.relative_half_width <= 0.03
            failures += not ok
            print(f"| {check.label} | {utilisation:.2f} | {check.expected * 1000:.3f} | "
                  f"{check.measured.format(3, 1000)} | {check.relative_half_width:.1%} | "
                  f"{'yes' if check.inside else 'NO'} | {check.littles_gap:.2%} | {time.perf_counter() - started:.1f} |")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
