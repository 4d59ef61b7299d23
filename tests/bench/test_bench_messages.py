"""``bench/bench_messages.py``, which the README names: its held-rate mode gives every user the
same work at every scale, and a run of it prints a row per scale with the messages per user."""

from __future__ import annotations

import sys

import pytest

from tests.bench.bench_modules import load_bench


def test_a_steady_scale_holds_the_rate_and_seats_for_every_buyer() -> None:
    bench = load_bench("bench_messages")
    one, three = bench.scaled(1, steady=True), bench.scaled(3, steady=True)
    assert three.workload.users == 3 * one.workload.users and three.concerts.dates == 3 * one.concerts.dates
    for scenario in (one, three):
        assert scenario.workload.arrival == "steady"
        assert scenario.workload.rate_per_second == pytest.approx(bench.STEADY_RATE, rel=1e-5)  # written with 6 digits
        assert scenario.workload.duration * scenario.workload.rate_per_second > scenario.workload.users  # all arrive
        assert scenario.concerts.dates * scenario.concerts.seats_per_date > scenario.workload.users


def test_a_run_prints_each_scale_with_its_messages_per_user(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_messages.py", "--scales", "1", "--repeats", "1", "--steady",
                                      "--baseline-messages", "2000", "--clock", "cpu"])
    load_bench("bench_messages").main()
    out = capsys.readouterr().out
    assert "steady arrivals" in out
    scale, users, messages, per_user, *_ = out.splitlines()[-1].split()
    assert (scale, users) == ("1", "400")
    assert float(per_user) == pytest.approx(int(messages.replace(",", "")) / 400, abs=0.05)


def test_a_held_calendar_opens_three_dates_at_a_time_while_users_arrive() -> None:
    bench = load_bench("bench_messages")
    for scale in (1, 4):
        scenario = bench.scaled(scale, steady=True, held_calendar=True)
        openings = [scenario.concerts.opening_of(d) for d in range(1, scenario.concerts.dates + 1)]
        assert openings == sorted(openings) and openings.count(0.0) == bench.BASE_DATES
        assert len(set(openings)) == scenario.concerts.dates // bench.BASE_DATES  # three dates an opening
        assert max(openings) < scenario.workload.users / scenario.workload.rate_per_second  # while users arrive
        assert {b - a for a, b in zip(sorted(set(openings)), sorted(set(openings))[1:])} <= {bench.HELD_CALENDAR_EVERY}


def test_a_held_calendar_needs_steady_arrivals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_messages.py", "--held-calendar"])
    with pytest.raises(SystemExit) as stopped:
        load_bench("bench_messages").main()
    assert stopped.value.code == 2
