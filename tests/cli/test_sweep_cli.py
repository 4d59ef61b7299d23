"""``concertsim sweep`` on the command line: a grid from --matrix, its files, a table per cell on the
terminal, bad --matrix input refused, and an interrupted sweep (a real SIGINT) resumed with
--resume to the result of one that ran through."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from concertsim.scenarios.loader import load_builtin
from concertsim.sweep import (
    SweepPlan,
    journal_directory,
    open_journal,
    parse_matrix,
    sweep_grid,
)
from tests.cli.invoking import cli, flat, refused
from tests.cli.test_cli_contract import assert_previous_result_intact, previous_result

REPO = Path(__file__).resolve().parents[2]
TINY = ["small-opening", "--set", "workload.users=6"]
PUBLISH = ["--matrix", "design.publish=outbox,dual_write"]


def test_a_grid_sweep_writes_the_stream_the_summary_and_the_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("sweep", *TINY, *PUBLISH, "--matrix", "rules.hold_ttl=20,40", "--seeds", "2", "--workers", "2",
                 "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    assert [cell["label"] for cell in summary["cells"]] == [
        "design.publish=outbox, rules.hold_ttl=20", "design.publish=outbox, rules.hold_ttl=40",
        "design.publish=dual_write, rules.hold_ttl=20", "design.publish=dual_write, rules.hold_ttl=40"]
    assert summary["runs"] == 8 and summary["seeds"] == [1, 2] and summary["holds"]
    lines = [json.loads(line) for line in (out / "sweep.jsonl").read_text().splitlines()]
    assert [(line["cell"]["rules.hold_ttl"], line["seed"]) for line in lines][:4] == [(20, 1), (20, 2), (40, 1), (40, 2)]
    assert {"report.md", "report.html", "sweep-plan.json", "measures-vs-rules-hold-ttl.png"} <= {p.name for p in out.iterdir()}
    assert not journal_directory(out).exists(), "the journal goes once the results are in place"


def test_the_terminal_shows_a_table_per_cell_with_rates_and_intervals_not_raw_dicts(tmp_path: Path) -> None:
    result = cli("sweep", *TINY, "--set", "design.hold_expiry=false", "--set", "settle.deadline=60", *PUBLISH,
                 "--seeds", "2", "--workers", "1", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    printed = flat(result.stdout)
    assert "{'" not in printed and "[128" not in printed
    assert "small-opening over 2 cells × 2 seeds" in printed and printed.count("design.publish=outbox · 2 seeds") == 1
    # a seed whose every hold was paid cannot judge expiry: it counts as n/a, not as holding
    assert re.search(r"seats-released-on-expiry │ broken in [12] of [12] runs \((50|100)%\) │ \[\d+%, \d+%\]", printed)
    assert "not applicable in every run: no-double-refund, point-replay-consistent" in printed
    assert re.search(r"latency p95 \(ms\) │ +[\d.]+ │ \[[\d.]+, [\d.]+\]", printed)
    assert "Invariants broken in 2 of 2 cells: design.publish=outbox broke seats-released-on-expiry (" in printed


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (["nosuch.field=1,2"], "--matrix nosuch.field: value '1': nosuch: unknown field"),
        (["workload.patience=5,many"], "--matrix workload.patience: value 'many': Input should be a valid number"),
        (["workload.patience="], "--matrix workload.patience: no values"),
        (["workload.patience=5", "workload.patience=7"], "--matrix workload.patience: given twice"),
        (["workload.users=5,7"], "--matrix workload.users: also given with --set workload.users"),
    ],
)
def test_bad_matrix_input_is_exit_2_in_one_line_before_anything_runs(tmp_path: Path, matrix: list[str], message: str) -> None:
    args = [arg for item in matrix for arg in ("--matrix", item)]
    text = refused(cli("sweep", *TINY, *args, "--out", str(tmp_path / "out")))
    assert text.startswith(f"error: {message}") and len(cli_lines(text)) == 1
    assert list(tmp_path.iterdir()) == []


def cli_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def interrupt_after_lines(args: list[str], out: Path, lines: int) -> subprocess.CompletedProcess[str]:
    """Start ``concertsim sweep ARGS``, send SIGINT once its journal holds ``lines`` runs, and
    return how it ended."""
    process = subprocess.Popen(
        [sys.executable, "-m", "concertsim.cli", "sweep", *args, "--out", str(out)], cwd=out.parent,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    journal = journal_directory(out) / "sweep.jsonl"
    deadline = time.monotonic() + 60
    while not journal.exists() or journal.read_text().count("\n") < lines:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no run finished"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_an_interrupted_sweep_keeps_its_runs_and_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    previous_result(out)
    args = [*TINY, *PUBLISH, "--seeds", "25"]
    ended = interrupt_after_lines([*args, "--workers", "1"], out, lines=3)
    assert ended.returncode == 130, ended.stderr
    said = flat(ended.stderr)
    assert "Traceback" not in ended.stderr + ended.stdout
    assert re.search(r"interrupted after (\d+) of 50 runs \(the \1 finished are kept in \S*\.out\.concertsim-journal: "
                     r"continue with --resume\); \S*out keeps its previous results", said), said
    kept = (journal_directory(out) / "sweep.jsonl").read_text().splitlines()
    assert 3 <= len(kept) < 50
    assert_previous_result_intact_but_the_journal(out)

    assert "continue it with --resume" in refused(cli("sweep", *args, "--out", str(out)))
    assert "--matrix design.publish=outbox over" in refused(
        cli("sweep", *TINY, "--matrix", "design.publish=outbox", "--seeds", "25", "--out", str(out), "--resume"))

    resumed = cli("sweep", *args, "--workers", "2", "--out", str(out), "--resume", "--json")
    assert resumed.exit_code == 0, resumed.output
    plan = SweepPlan.build(load_builtin("small-opening", ["workload.users=6"]), parse_matrix(PUBLISH[1:]), range(1, 26))
    through = sweep_grid(plan, workers=2).to_json()
    assert json.loads(resumed.stdout) == json.loads(json.dumps(through))
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(through))
    assert not (out / "counterexample.yaml").exists() and not journal_directory(out).exists()
    assert len((out / "sweep.jsonl").read_text().splitlines()) == 50


def assert_previous_result_intact_but_the_journal(out: Path) -> None:
    journal = journal_directory(out)
    hidden = journal.rename(out.parent / "journal-aside")
    try:
        assert_previous_result_intact(out)
    finally:
        hidden.rename(journal)


def test_a_sweep_killed_outright_keeps_its_finished_runs_and_its_workers_end_with_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [*TINY, *PUBLISH, "--seeds", "25", "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "concertsim.cli", "sweep", *args, "--out", str(out)], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
    )
    journal = journal_directory(out) / "sweep.jsonl"
    deadline = time.monotonic() + 60
    while not journal.exists() or journal.read_text().count("\n") < 3:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    workers = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                                                  text=True).stdout.split()]
    process.kill()
    process.wait()
    assert workers, "the sweep ran on a pool"
    deadline = time.monotonic() + 10
    try:
        while any(running(pid) for pid in workers):
            assert time.monotonic() < deadline, "the workers outlived the killed sweep"
            time.sleep(0.05)
    finally:
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    kept = len(journal.read_text().splitlines())
    plan = SweepPlan.build(load_builtin("small-opening", ["workload.users=6"]), parse_matrix(PUBLISH[1:]), range(1, 26))
    with open_journal(out, plan, resume=True) as resumed:
        assert kept >= 3 and len(resumed.runs) == kept


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False
