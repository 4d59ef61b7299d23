"""Bounded resources measure themselves, and a database commits no faster than its connections
allow."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.sim.infrastructure.storage import Database
from concertsim.sim.infrastructure.workers import WorkerPool
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario


def test_a_pool_integrates_busy_servers_queue_length_and_waits() -> None:
    env = simpy.Environment()
    pool = WorkerPool(env, 1)

    def hold(seconds: float) -> Generator[simpy.Event, Any, None]:
        handed_over = pool.acquire()
        if handed_over is not None:
            yield handed_over
        yield env.timeout(seconds)
        pool.release()

    env.process(hold(1.0))
    env.process(hold(1.5))
    env.run()
    usage = pool.settle()
    assert (usage.busy_area, usage.queue_area, usage.waits, usage.wait_max, usage.queue_max) == (2.5, 1.0, 1, 1.0, 1)
    assert usage.busy_by_second == {0: 1.0, 1: 1.0, 2: 0.5} and usage.queue_by_second == {0: 1.0}
    assert usage.utilisation(2.5) == 1.0


def test_a_database_with_one_connection_commits_one_transaction_at_a_time() -> None:
    env = simpy.Environment()
    db = Database("point", env, commit_latency=lambda: 1.0, connections=1)
    done: list[float] = []

    def commit(key: str) -> Generator[simpy.Event, Any, None]:
        tx = db.begin()
        tx.put("rows", key, 1)
        yield from db.commit(tx)
        done.append(env.now)

    for key in "abc":
        env.process(commit(key))
    env.run()
    assert done == [1.0, 2.0, 3.0]
    assert db.connections is not None and db.connections.settle().waits == 2


def test_a_run_reports_its_pools_and_a_scarce_connection_pool_shows_as_waits() -> None:
    roomy = run_scenario(small_scenario())
    scarce = run_scenario(small_scenario("storage.connections=1"))
    assert {"queue.workers", "queue.connections", "gateway.workers"} <= set(roomy.resources)
    assert "gateway.connections" not in roomy.resources  # the gateway has no database
    assert sum(u.waits for name, u in roomy.resources.items() if name.endswith(".connections")) == 0
    assert sum(u.waits for name, u in scarce.resources.items() if name.endswith(".connections")) > 0


def test_a_slow_partition_log_writer_saturates_and_the_outbox_waits_for_it() -> None:
    from concertsim.checks import check_run
    from concertsim.metrics.resources import first_saturated, resource_usage

    slow = run_scenario(small_scenario("broker.partition_append_time=0.3", "broker.partitions=1", "workload.users=40"))
    table = resource_usage(slow.resources, slow.phases.ended_at)
    saturated = [name for name, _ in first_saturated(table)]
    assert "broker.reservation-events/0" in saturated and "broker.queue-events/0" in saturated
    assert [v.invariant.id for v in check_run(slow) if v.violated] == []
    assert not any(name.startswith("broker.") for name in run_scenario(small_scenario()).resources)
