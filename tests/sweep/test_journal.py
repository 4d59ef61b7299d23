"""The journal: every finished run is a line of sweep.jsonl as soon as it finishes; an interrupted
sweep resumes to the same result as one that ran through, without running a finished run again;
a resume of another sweep, a half-written line and a second writer are handled."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from concertsim.sweep import (
    GridRun,
    JournalError,
    SweepPlan,
    journal_directory,
    open_journal,
    parse_matrix,
    sweep_grid,
)
from concertsim.sweep.journal import JOURNAL_FILE, PLAN_FILE
from tests.conftest import small_scenario
from tests.sweep import fakes

MATRIX = ("design.publish=outbox,dual_write",)


def tiny_plan(*matrix: str, seeds: int = 3) -> SweepPlan:
    return SweepPlan.build(small_scenario("workload.users=6"), parse_matrix(matrix), range(1, seeds + 1))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_run_is_a_flushed_line_of_the_journal_as_soon_as_it_finishes(tmp_path: Path) -> None:
    plan = tiny_plan(*MATRIX, seeds=2)
    seen_on_disk: list[int] = []
    with open_journal(tmp_path / "out", plan) as journal:
        def record(run: GridRun) -> None:
            journal.append(run)
            seen_on_disk.append(len(lines(journal.path)))

        result = sweep_grid(plan, workers=1, on_result=record)
        written = lines(journal.path)
    assert seen_on_disk == [1, 2, 3, 4], "each run is on disk when its callback returns"
    assert {(json.dumps(r["cell"]), r["seed"]) for r in written} == {
        (json.dumps({"design.publish": p}), s) for p in ("outbox", "dual_write") for s in (1, 2)}
    first = written[0]
    assert len(first["trace_sha256"]) == 64 and first["violated"] == [] and first["first_violations"] == []
    assert set(first["measures"]) >= {"latency_p95_ms", "funnel_confirmed"} and "wall_seconds" in first
    assert json.loads((journal_directory(tmp_path / "out") / PLAN_FILE).read_text())["fingerprint"] == plan.fingerprint
    assert len(result.runs) == 4


def test_an_interrupted_sweep_resumes_to_the_result_of_one_that_ran_through(tmp_path: Path) -> None:
    plan = tiny_plan(*MATRIX)
    through = sweep_grid(plan, workers=2).to_json()

    finished = 0

    def interrupt_after_two(run: GridRun) -> None:
        nonlocal finished
        journal.append(run)
        finished += 1
        if finished == 2:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), open_journal(out, plan) as journal:
        sweep_grid(plan, workers=2, on_result=interrupt_after_two)
    assert len(lines(journal_directory(out) / JOURNAL_FILE)) == 2, "the finished runs are kept"

    rerun: list[GridRun] = []
    with open_journal(out, plan, resume=True) as resumed:
        assert len(resumed.runs) == 2
        result = sweep_grid(plan, workers=2, done=resumed.runs, on_result=lambda r: (resumed.append(r), rerun.append(r)))
    assert len(rerun) == plan.total_runs - 2, "no finished run was run again"
    assert not {(r.cell_key, r.result.seed) for r in rerun} & {(r.cell_key, r.result.seed) for r in resumed.runs}
    assert json.dumps(result.to_json()) == json.dumps(through)


def test_resuming_another_sweep_is_refused_saying_what_each_one_is(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with open_journal(out, tiny_plan(*MATRIX)) as journal:
        journal.append(fakes.run(tiny_plan(*MATRIX).cells[0], 1))
    for other in (tiny_plan("design.publish=outbox"), tiny_plan(*MATRIX, seeds=4)):
        with pytest.raises(JournalError) as refused:
            open_journal(out, other, resume=True)
        message = str(refused.value)
        assert message.startswith("--resume: the interrupted sweep in") and "--matrix design.publish=outbox,dual_write" in message
        assert f"this one is {other.describe()}" in message and "--restart" in message
    changed = SweepPlan.build(small_scenario("workload.users=7"), parse_matrix(MATRIX), range(1, 4))
    with pytest.raises(JournalError, match="this one's scenario differs"):
        open_journal(out, changed, resume=True)


def test_a_new_sweep_over_an_interrupted_one_is_refused_unless_told_what_to_do(tmp_path: Path) -> None:
    out, plan = tmp_path / "out", tiny_plan(*MATRIX)
    with open_journal(out, plan) as journal:
        journal.append(fakes.run(plan.cells[0], 1))
    with pytest.raises(JournalError, match=r"an interrupted sweep keeps 1 finished run in .*continue it with --resume.*--restart"):
        open_journal(out, plan)
    with open_journal(out, plan, restart=True) as fresh:
        assert fresh.runs == []
    assert not journal_directory(out).exists(), "a journal without a run is not kept"


def test_a_half_written_last_line_is_dropped_and_a_broken_one_refused(tmp_path: Path) -> None:
    out, plan = tmp_path / "out", tiny_plan(*MATRIX)
    with open_journal(out, plan) as journal:
        journal.append(fakes.run(plan.cells[0], 1))
        journal.append(fakes.run(plan.cells[1], 2))
    path = journal_directory(out) / JOURNAL_FILE
    path.write_bytes(path.read_bytes() + b'{"cell": {"design.pub')  # killed in the middle of a write
    with open_journal(out, plan, resume=True) as resumed:
        assert [r.result.seed for r in resumed.runs] == [1, 2]
        resumed.append(fakes.run(plan.cells[0], 3))
    assert [r["seed"] for r in lines(path)] == [1, 2, 3]
    path.write_text("not json\n" + path.read_text())
    with pytest.raises(JournalError, match=r"line 1 is not a run of a sweep"):
        open_journal(out, plan, resume=True)


def test_two_sweeps_cannot_write_one_journal_at_once(tmp_path: Path) -> None:
    out, plan = tmp_path / "out", tiny_plan(*MATRIX)
    with open_journal(out, plan):
        for flags in ({}, {"resume": True}, {"restart": True}):
            with pytest.raises(JournalError, match="another concertsim sweep is writing into it"):
                open_journal(out, plan, **flags)


def test_resume_takes_up_a_complete_sweep_and_says_when_there_is_nothing_to_resume(tmp_path: Path) -> None:
    out, plan = tmp_path / "out", tiny_plan(*MATRIX)
    with open_journal(out, plan, resume=True) as journal:
        assert "nothing to resume" in journal.note and journal.runs == []
        runs = [fakes.run(cell, seed) for cell in plan.cells for seed in plan.seeds]
        for run in runs:
            journal.append(run)
    journal_directory(out).rename(out)  # as a completed sweep leaves it (with its report besides)
    with open_journal(out, plan, resume=True) as again:
        assert len(again.runs) == plan.total_runs and "holds this sweep complete" in again.note
        again.discard()
    with pytest.raises(JournalError, match="run it without --resume to replace it"):
        open_journal(out, tiny_plan("design.publish=outbox"), resume=True)


def test_a_process_forked_while_the_journal_is_open_does_not_keep_it_locked(tmp_path: Path) -> None:
    """Pool workers are forked while the journal is open; one that outlives a killed sweep must
    not refuse the --resume."""
    out, plan = tmp_path / "out", tiny_plan(*MATRIX)
    fork = multiprocessing.get_context("fork")
    started = fork.Event()
    worker = fork.Process(target=idle, args=(started,))
    with open_journal(out, plan) as journal:
        journal.append(fakes.run(plan.cells[0], 1))
        worker.start()
        assert started.wait(10)
    try:
        with open_journal(out, plan, resume=True) as resumed:
            assert len(resumed.runs) == 1
    finally:
        worker.kill()
        worker.join()


def idle(started: Any) -> None:
    started.set()
    time.sleep(30)
