"""Scheduler addresses are checked before anything runs; an unreachable scheduler is reported after
the connect timeout, saying how long it waited; an interrupted sweep stops its workers."""

from __future__ import annotations

import time

import pytest

from concertsim.cluster import SchedulerAddressError, SchedulerUnreachable, connect, scheduler_address
from concertsim.sweep import SeedResult, sweep
from tests.conftest import small_scenario


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("tls://scheduler.example:8786", "tls://scheduler.example:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
    ],
)
def test_scheduler_addresses_are_accepted_and_given_a_scheme(text: str, address: str) -> None:
    assert scheduler_address(text) == address


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("notaurl", "not a scheduler address"),
        ("tcp://10.0.0.5", "not a scheduler address"),
        ("tcp://10.0.0.5:99999", "outside 1-65535"),
        ("http://10.0.0.5:8786", "unknown scheme 'http'"),
        ("", "not a scheduler address"),
        ("tcp://host name:1", "not a scheduler address"),
    ],
)
def test_what_is_not_a_scheduler_address_is_refused_saying_what_one_looks_like(text: str, why: str) -> None:
    with pytest.raises(SchedulerAddressError) as refused:
        scheduler_address(text)
    assert why in str(refused.value) and "tcp://" in str(refused.value)


def test_an_unreachable_scheduler_is_reported_after_the_timeout_it_names() -> None:
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachable) as refused:
        connect("tcp://127.0.0.1:1", timeout=1)
    assert time.monotonic() - started < 10
    assert "within 1 s" in str(refused.value) and "--connect-timeout" in str(refused.value)


def test_an_interrupted_sweep_stops_its_workers_and_says_which_seeds_finished() -> None:
    finished: list[SeedResult] = []

    def interrupt_after_the_first(result: SeedResult) -> None:
        finished.append(result)
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        sweep(small_scenario(), range(40), workers=2, on_result=interrupt_after_the_first)
    assert len(finished) == 1
    assert time.monotonic() - started < 30, "the 39 other seeds were not all run"
