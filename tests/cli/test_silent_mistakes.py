"""Inputs that used to be accepted and quietly give a wrong or wasted answer are refused or handled."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.invoking import cli, flat, refused


def test_a_fault_that_starts_after_the_workload_ends_is_refused() -> None:
    message = refused(cli("validate", "small-opening", "--set", "faults=[{at: 500, kind: crash, target: point}]"))
    assert "faults[0].at: 500 s is after the workload ends at 60 s" in message and "never strike" in message


def test_a_sale_that_opens_after_the_workload_ends_is_refused() -> None:
    for override in ("concerts.opens_at=100", "concerts.opens_at_by_date={2: 90}"):
        message = refused(cli("validate", "small-opening", "--set", override))
        assert "is not before the workload ends at 60 s" in message and "no user could buy" in message


def test_ablate_refuses_a_flow_named_twice() -> None:
    message = refused(cli("ablate", "--flows", "sync,sync"))
    assert "names sync more than once" in message


def test_migrate_a_scenario_that_carries_a_shift_runs_it_as_the_shifted_stage(tmp_path: Path) -> None:
    out = tmp_path / "migration"
    result = cli("migrate", "point-shift", "--stages", "monolith,point_split", "--seeds", "1", "--workers", "1",
                 "--set", "workload.users=8", "--set", "faults=[]", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "monolith@25: 2 of 8 users served by the split-out Point" in flat(result.stdout)
    stages = [stage["stage"] for stage in json.loads((out / "migration.json").read_text())["stages"]]
    assert stages == ["monolith", "monolith@25", "point_split"]


def test_ctrl_c_after_a_command_finished_writing_says_so(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import importlib

    import pytest

    app_module = importlib.import_module("concertsim.cli.app")  # the package's `app` attribute is the Typer app

    def interrupted_after_writing() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(app_module, "app", interrupted_after_writing)
    with pytest.raises(SystemExit) as exited:
        app_module.main()
    assert exited.value.code == 130
    assert "interrupted after the command's last step" in capsys.readouterr().err
