"""Checking a run keeps nothing of it alive afterwards: the caches the checks share are keyed by
the run's trace, weakly, and must not hold it strongly through their values. Otherwise a sweep or
a search keeps every run it ever checked, a quarter of a megabyte each."""

from __future__ import annotations

import gc
import weakref

from concertsim.checks import check_run
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario


def test_a_checked_run_is_freed_once_nothing_refers_to_it() -> None:
    result = run_scenario(small_scenario("workload.users=3", faults=[
        {"at": 0, "kind": "drop", "target": "reply", "duration": 5, "match": {"message_type": "point.use"}}]))
    check_run(result)
    gone_result, gone_trace = weakref.ref(result), weakref.ref(result.trace)
    del result
    gc.collect()
    assert gone_result() is None and gone_trace() is None
