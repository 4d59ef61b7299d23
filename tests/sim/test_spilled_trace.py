"""``--trace-mode stream``: the high-volume kinds on disk, the same trace, checks and metrics."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from concertsim import api
from concertsim.sim.infrastructure import spill_files, spilled_trace
from concertsim.sim.infrastructure.spilled_trace import CHUNK, SPILLED_KINDS, SpillingTrace
from concertsim.sim.run.runner import run_scenario
from tests.cli.invoking import cli, refused
from tests.conftest import small_scenario

REPO = Path(__file__).resolve().parents[2]

# Faults that make every kind of record (crashes, lost and duplicated messages) and a design
# switch that breaks promises, so the comparison covers violations and their records too.
FAULTY = (
    "design.compensation=false",
    "design.consumer_dedup=false",
    'faults=[{"at": 0, "kind": "duplicate", "target": "delivery", "duration": 30},'
    ' {"at": 0, "kind": "drop", "target": "reply", "duration": 30, "match": {"message_type": "point.use"}},'
    ' {"at": 8, "kind": "crash", "target": "point"}]',
    "workload.users=120",
)


@pytest.fixture(scope="module")
def both() -> tuple[api.RunOutcome, api.RunOutcome]:
    scenario = small_scenario(*FAULTY)
    return api.run(scenario), api.run(scenario, trace_mode="stream")


def _without_wall_time(summary: dict) -> dict:
    summary["metrics"]["time"].pop("wall_seconds")
    return summary


def test_a_streamed_trace_reads_back_record_for_record(both):
    in_memory, streamed = (outcome.result.trace for outcome in both)
    assert isinstance(streamed, SpillingTrace)
    assert len(streamed) == len(in_memory)
    assert [r.to_json() for r in streamed] == [r.to_json() for r in in_memory]
    assert streamed.sha256() == in_memory.sha256()
    for kinds in (("call.serve",), ("event.raised", "call.send", "client.ok"), ("fault.start", "tx.commit")):
        assert [r.seq for r in streamed.of_kind(*kinds)] == [r.seq for r in in_memory.of_kind(*kinds)]
    # Records of every chunk written and of those not yet written, and a number past the end.
    wanted = [0, 5, len(in_memory) // 2, len(in_memory) - 1, len(in_memory) + 3]
    assert {s: r.to_json() for s, r in streamed.lookup(wanted).items()} == {
        s: r.to_json() for s, r in in_memory.lookup(wanted).items()}
    by_kind = streamed.by_kind()
    assert {kind: len(records) for kind, records in by_kind.items()} == {
        kind: len(records) for kind, records in in_memory.by_kind().items()}


def test_a_lookup_reads_the_chunks_that_hold_its_records(monkeypatch) -> None:
    monkeypatch.setattr(spilled_trace, "CHUNK", 50)  # many chunks of every spilled kind
    scenario = small_scenario("workload.users=40")
    in_memory, streamed = run_scenario(scenario).trace, run_scenario(scenario, trace_mode="stream").trace
    try:
        # One record at a time: each kind's first and last record of every chunk, and of those
        # still unwritten; then many at once, and a number past the end.
        edges = [[r.seq] for kind in SPILLED_KINDS for i, r in enumerate(in_memory.of_kind(kind)) if i % 50 in (0, 49)]
        edges += [[r.seq] for kind in SPILLED_KINDS for r in list(in_memory.of_kind(kind))[-1:]]
        assert len(edges) > 100
        for wanted in [*edges, [*range(0, len(in_memory), 37), len(in_memory) + 3]]:
            assert {s: r.to_json() for s, r in streamed.lookup(wanted).items()} == {
                s: r.to_json() for s, r in in_memory.lookup(wanted).items()}
    finally:
        streamed.close()


def test_the_spilled_kinds_are_not_in_memory(both):
    streamed = both[1].result.trace
    kept = {record.kind for record in streamed.records}
    assert not kept & SPILLED_KINDS
    assert len(streamed.records) < len(streamed) / 3
    assert len(streamed) > CHUNK, "the run is too small to write a whole chunk to disk"


def test_a_streamed_run_gives_the_same_verdicts_violations_and_metrics(both):
    in_memory, streamed = both
    assert in_memory.violated, "the faulty run should break a promise, so violations are compared too"
    assert _without_wall_time(streamed.summary()) == _without_wall_time(in_memory.summary())


def test_closing_a_streamed_trace_removes_its_files():
    result = run_scenario(small_scenario(), trace_mode="stream")
    folder = result.trace.folder
    assert sum(1 for _ in result.trace) == len(result.trace)
    assert any(folder.iterdir()), "reading the trace writes out what was still buffered"
    result.trace.close()
    assert not folder.exists()


def test_run_writes_the_same_files_with_either_trace_mode(tmp_path: Path):
    for mode in ("memory", "stream"):
        done = cli("run", "small-opening", "--trace-mode", mode, "--out", str(tmp_path / mode), "--quiet")
        assert done.exit_code == 0, done.output
    memory, stream = tmp_path / "memory", tmp_path / "stream"
    assert (stream / "trace.jsonl").read_bytes() == (memory / "trace.jsonl").read_bytes()
    summaries = [_without_wall_time(json.loads((d / "summary.json").read_text())) for d in (memory, stream)]
    assert summaries[0] == summaries[1]
    assert (stream / "report.md").read_text() == (memory / "report.md").read_text()


def test_an_unknown_trace_mode_is_refused(tmp_path: Path):
    message = refused(cli("run", "--trace-mode", "disk", "--out", str(tmp_path)))
    assert "--trace-mode must be one of 'auto', 'memory', 'stream', not 'disk'" in message


def test_a_run_that_outgrows_its_memory_is_stopped_with_advice(tmp_path: Path, monkeypatch) -> None:
    import concertsim.cli.run as run_command

    monkeypatch.setattr(run_command, "resident_memory", lambda: 2**50)
    message = refused(cli("run", "small-opening", "--out", str(tmp_path / "out")))
    assert "small-opening: stopped after" in message
    assert "the run outgrew the memory it may take" in message
    assert "use --trace-mode stream or lower workload.users" in message
    assert not (tmp_path / "out").exists(), "nothing half-written is left"
    insisted = cli("run", "small-opening", "--allow-large", "--quiet", "--out", str(tmp_path / "out"))
    assert insisted.exit_code == 0, insisted.output


@pytest.fixture
def streamed_and_hash() -> Iterator[tuple[SpillingTrace, str]]:
    """A streamed trace (its serialization not begun) and the hash of the same run in memory."""
    scenario = small_scenario(*FAULTY)
    streamed = run_scenario(scenario, trace_mode="stream").trace
    assert isinstance(streamed, SpillingTrace) and streamed.background_serialization is None
    yield streamed, run_scenario(scenario).trace.sha256()
    streamed.close()


def test_a_trace_serialized_in_another_process_is_the_same(streamed_and_hash, monkeypatch) -> None:
    streamed, in_memory_hash = streamed_and_hash
    serialization = streamed.serialize_in_background()
    monkeypatch.setattr(spilled_trace, "serialize", lambda *args: pytest.fail("serialized again in this process"))
    assert serialization.digest() == in_memory_hash, serialization.error
    assert streamed.sha256() == in_memory_hash
    assert streamed.background_serialization is None, "its digest taken, the process is let go"
    assert [json.loads(line) for line in streamed.lines()] == [r.to_json() for r in streamed]


def test_the_serializer_runs_this_code_wherever_it_starts(streamed_and_hash, tmp_path, monkeypatch) -> None:
    """A ``concertsim`` folder in the working directory, or on ``PYTHONPATH``, is not the one the
    serializer imports: it runs the code of the process that started it."""
    streamed, in_memory_hash = streamed_and_hash
    decoy = tmp_path / "concertsim"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('the wrong concertsim')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    serialization = streamed.serialize_in_background()
    assert serialization.digest() == in_memory_hash, serialization.error


@pytest.mark.parametrize("child", ["import sys; sys.exit(3)", "print('not a digest')", "print('g' * 64)"])
def test_a_failed_background_serialization_costs_time_not_the_hash(streamed_and_hash, monkeypatch, child) -> None:
    streamed, in_memory_hash = streamed_and_hash
    monkeypatch.setattr(spill_files, "_command", lambda request: [sys.executable, "-c", child])
    serialization = streamed.serialize_in_background()
    assert streamed.sha256() == in_memory_hash
    assert serialization.error is not None and serialization.error.startswith("exit ")


def test_a_background_serialization_that_cannot_start_costs_time_not_the_hash(streamed_and_hash, monkeypatch) -> None:
    streamed, in_memory_hash = streamed_and_hash
    monkeypatch.setattr(spill_files, "_command", lambda request: ["/nonexistent/python"])
    serialization = streamed.serialize_in_background()
    assert serialization.error is not None and serialization.error.startswith("could not start")
    assert streamed.sha256() == in_memory_hash


def test_closing_a_trace_stops_its_background_serialization(streamed_and_hash, monkeypatch) -> None:
    streamed, _ = streamed_and_hash
    monkeypatch.setattr(spill_files, "_command", lambda request: [sys.executable, "-c", "import time; time.sleep(60)"])
    serialization = streamed.serialize_in_background()
    assert serialization.running
    streamed.close()
    assert not serialization.running and serialization.error == "stopped"
    assert not streamed.folder.exists()


def test_a_trace_added_to_after_its_serialization_began_is_serialized_again() -> None:
    scenario = small_scenario(*FAULTY)
    streamed, in_memory = run_scenario(scenario, trace_mode="stream").trace, run_scenario(scenario).trace
    assert isinstance(streamed, SpillingTrace)
    try:
        serialization = streamed.serialize_in_background()
        for trace in (streamed, in_memory):
            trace.add(10_000.0, "phase.extra", "runner", None, {})
        assert streamed.sha256() == in_memory.sha256()
        assert serialization.error == "stopped", "the serialization of the trace as it was is not waited for"
        assert json.loads(list(streamed.lines())[-1])["kind"] == "phase.extra"
    finally:
        streamed.close()


def test_a_large_streamed_run_starts_its_serialization_as_it_ends(monkeypatch) -> None:
    scenario = small_scenario("workload.users=40")
    monkeypatch.setattr(spilled_trace, "_usable_cores", lambda: 2)
    monkeypatch.setattr(spilled_trace, "SERIALIZED_AHEAD_FROM", 10**9)
    small = run_scenario(scenario, trace_mode="stream").trace
    monkeypatch.setattr(spilled_trace, "SERIALIZED_AHEAD_FROM", 1)
    large = run_scenario(scenario, trace_mode="stream").trace
    try:
        assert isinstance(small, SpillingTrace) and isinstance(large, SpillingTrace)
        assert small.background_serialization is None
        serialization = large.background_serialization
        assert serialization is not None
        assert serialization.digest() == run_scenario(scenario).trace.sha256(), serialization.error
        monkeypatch.setattr(spilled_trace, "_usable_cores", lambda: 1)
        one_core = run_scenario(scenario, trace_mode="stream").trace
        assert isinstance(one_core, SpillingTrace) and one_core.background_serialization is None
        one_core.close()
    finally:
        small.close()
        large.close()


def _ended(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (ended, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a process is ended with its parent on Linux only")
def test_a_serializer_ends_with_a_parent_killed_outright(tmp_path: Path) -> None:
    never_written = tmp_path / "never-written"
    os.mkfifo(never_written)  # the serializer waits at its open, for as long as it lives
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import time\nfrom pathlib import Path\n"
         "from concertsim.sim.infrastructure.spill_files import BackgroundSerialization, Part\n"
         f"BackgroundSerialization([Part('call.send', {str(never_written)!r})], Path({str(tmp_path / 'out')!r}))\n"
         "print('started', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
    )
    children: list[int] = []
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "started\n"
        children = [int(pid) for pid in Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()]
        assert len(children) == 1 and not _ended(children[0])
        parent.kill()  # SIGKILL: no clean-up of its own runs
        parent.wait()
        deadline = time.monotonic() + 20
        while not _ended(children[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _ended(children[0]), "the serializer outlived its parent"
    finally:
        parent.kill()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
