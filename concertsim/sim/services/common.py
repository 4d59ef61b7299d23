"""Helpers shared by the service modules."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from concertsim.sim.hosting.host import Host

__all__ = ["every", "Job"]

Job = Callable[[], Generator[simpy.Event, Any, None]]


def every(host: Host, interval: float, label: str, tick: Callable[[Host], Generator[simpy.Event, Any, Any]]) -> Job:
    """A scheduled job: run ``tick`` on a worker every ``interval`` seconds while the host is up
    and serves its service's data (``host.serves``: a migration moves the jobs with the data)."""

    def loop() -> Generator[simpy.Event, Any, None]:
        while True:
            yield host.env.timeout(interval)
            if host.serves is not None and not host.serves():
                continue
            try:
                yield from host.work_on_worker(label, tick(host))
            except Exception as failure:  # noqa: BLE001 - a failed tick is retried next interval
                host.world.record("job.failed", host.name, job=label, reason=type(failure).__name__)

    return loop
