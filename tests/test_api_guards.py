"""The library API and the pytest fixture guard what the command line guards: bad arguments are
refused with the argument named, and a run too large for memory is refused before it starts."""

from __future__ import annotations

from typing import Any

import pytest

import concertsim.api as api_module
import concertsim.testing as testing_module
from concertsim import api
from concertsim.sim.run.cost import RunTooLarge
from concertsim.testing import assert_holds


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the run started before the refusal")

    monkeypatch.setattr(api_module, "run_scenario", forbidden)
    monkeypatch.setattr(testing_module, "run_scenario", forbidden)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"trace_mode": "streem"}, "trace_mode"),
        ({"seed": 1.5}, "seed"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"seed": True}, "seed"),
        ({"seed": "7"}, "seed"),
    ],
)
def test_the_api_refuses_what_the_command_line_refuses(kwargs: dict[str, Any], names: str, no_simulation: None) -> None:
    with pytest.raises(ValueError, match=names):
        api.run("small-opening", **kwargs)


def test_a_million_users_is_refused_by_the_api_before_it_runs(no_simulation: None) -> None:
    with pytest.raises(RunTooLarge, match="1,000,000 users") as refused:
        api.run("small-opening", overrides=["workload.users=1000000"])
    assert refused.value.needed > refused.value.limit


def test_a_million_users_is_refused_by_the_pytest_helper_before_it_runs(no_simulation: None) -> None:
    with pytest.raises(RunTooLarge, match="too large to run"):
        assert_holds("small-opening", overrides=["workload.users=1000000"])
    with pytest.raises(ValueError, match="seed"):
        assert_holds("small-opening", seed=1.5)  # type: ignore[arg-type]


def test_allow_large_lets_the_api_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []

    def stop(*args: Any, **kwargs: Any) -> None:
        started.append(args)
        raise KeyboardInterrupt

    monkeypatch.setattr(api_module, "run_scenario", stop)
    with pytest.raises(KeyboardInterrupt):
        api.run("small-opening", overrides=["workload.users=1000000"], allow_large=True)
    assert started
