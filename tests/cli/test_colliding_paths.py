"""Paths that collide: no command deletes its own input, overwrites another file it writes, or
swaps its result over another command's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from concertsim.reports.results.lock import OutputLock
from tests.cli.invoking import cli, refused

FAST = ["--set", "workload.users=2", "--set", "workload.duration=10"]


def test_replay_refuses_an_out_that_holds_the_file_it_replays(tmp_path: Path) -> None:
    out = tmp_path / "found"
    assert cli("run", "small-opening", *FAST, "--out", str(out), "--quiet").exit_code == 0
    scenario = out / "kept.yaml"
    scenario.write_text("name: kept\nworkload: {users: 2, duration: 10}\n")
    (out / ".concertsim-manifest").write_text((out / ".concertsim-manifest").read_text() + "kept.yaml\n")

    message = refused(cli("replay", str(scenario), "--out", str(out)))

    assert "which this command reads" in message
    assert scenario.read_text().startswith("name: kept")


def test_run_refuses_an_out_that_holds_its_scenario_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    scenario = out / "mine.yaml"
    scenario.write_text("name: mine\nworkload: {users: 2, duration: 10}\n")

    message = refused(cli("run", str(scenario), "--out", str(out)))

    assert "which this command reads" in message
    assert scenario.exists()


def test_a_second_command_into_the_same_out_is_refused_while_the_first_writes(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    lock = OutputLock(out.resolve(), out)
    lock.acquire()
    try:
        message = refused(cli("explore", "-n", "1", *FAST, "--out", str(out)))
    finally:
        lock.release()

    assert "another concertsim command is writing results there" in message
    assert not out.exists()


def test_the_lock_is_released_and_removed_when_a_command_ends(tmp_path: Path) -> None:
    out = tmp_path / "done"
    assert cli("run", "small-opening", *FAST, "--out", str(out), "--quiet").exit_code == 0
    assert cli("run", "small-opening", *FAST, "--out", str(out), "--quiet").exit_code == 0
    assert not list(tmp_path.glob(".*concertsim-lock"))


def test_junit_inside_out_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("run", "small-opening", *FAST, "--out", str(out), "--quiet").exit_code == 0
    before = (out / "summary.json").read_bytes()
    for target in ("summary.json", "verdict.xml"):
        message = refused(cli("run", "small-opening", *FAST, "--out", str(out), "--junit", str(out / target)))
        assert "lies inside --out" in message
    assert (out / "summary.json").read_bytes() == before
    assert not (out / "verdict.xml").exists()


def test_junit_and_the_step_summary_may_not_be_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "ci.xml"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(shared))

    message = refused(cli("run", "small-opening", *FAST, "--out", str(tmp_path / "out"), "--junit", str(shared)))

    assert "GITHUB_STEP_SUMMARY" in message
    assert not shared.exists()


def test_a_step_summary_inside_out_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(out / "summary.md"))

    message = refused(cli("run", "small-opening", *FAST, "--out", str(out)))

    assert "GITHUB_STEP_SUMMARY" in message and "inside --out" in message
    assert not out.exists()


def test_a_forked_child_does_not_keep_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "forked"
    lock = OutputLock(out.resolve(), out)
    lock.acquire()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only sleeps until the parent has checked
        import time

        time.sleep(2)
        os._exit(0)
    try:
        lock.release()
        again = OutputLock(out.resolve(), out)
        again.acquire()
        again.release()
    finally:
        os.waitpid(child, 0)
