"""Numbers past their type are refused (exit 2, naming the option or field), never an overflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.invoking import cli, flat

HUGE = "99999999999999999999"


def refused_option(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return flat(result.output)


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("sweep", "small-opening", "--seeds", HUGE), "--seeds"),
        (("compare", "small-opening", "--set-b", "design.compensation=false", "--seeds", HUGE), "--seeds"),
        (("migrate", "small-opening", "--seeds", HUGE), "--seeds"),
        (("explore", "-n", HUGE), "--examples"),
        (("explore", "--seed", HUGE), "--seed"),
        (("explore", "--workers", HUGE), "--workers"),
        (("explore", "--max-users", HUGE), "--max-users"),
        (("ablate", "--seed", HUGE), "--seed"),
        (("run", "small-opening", "--seed", HUGE), "--seed"),
    ],
)
def test_a_count_past_its_bound_is_refused_naming_the_option(args: tuple[str, ...], names: str, tmp_path: Path) -> None:
    output = refused_option(cli(*args, "--out", str(tmp_path / "out")))
    assert names in output and "less than or equal to" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "override",
    [
        "workload.rate_per_second=1e308",
        "workload.initial_points=99999999999999999999",
        "concerts.price=99999999999999999999",
        "rules.queue_capacity=99999999999999999999",
        "rules.rate_limit_per_second=1e308",
        "faults=[{at: 0, kind: drop, target: request, match: {count: 99999999999999999999}}]",
        "faults=[{at: 0, kind: slow, target: point, params: {factor: 1e308}}]",
    ],
)
def test_a_scenario_number_past_its_bound_is_refused_by_validate_and_run(override: str, tmp_path: Path) -> None:
    field = override.split("=")[0]
    for args in (("validate", "steady-state"), ("run", "steady-state", "--out", str(tmp_path / "out"))):
        result = cli(*args, "--set", override)
        assert result.exit_code == 2, (result.exit_code, result.output)
        assert "Traceback" not in result.output and field.split(".")[0] in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_sweep_whose_kept_summaries_would_not_fit_is_refused_with_the_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concertsim.sim.run.cost as cost

    monkeypatch.setattr(cost, "memory_limit", lambda: 300 * 2**20)  # a machine with 300 MiB to spare
    output = refused_option(cli("sweep", "small-opening", "--set", "workload.users=2", "--seeds", "100000",
                                "--matrix", "design.payment_flow=sync,choreography", "--out", str(tmp_path / "out")))
    assert "too large to run without --allow-large" in output and "the summaries of 200,000 runs" in output
    assert "Fewer --seeds or cells" in output
    assert not (tmp_path / "out").exists()
