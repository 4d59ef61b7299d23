"""A streamed trace's spill folder outlives an owner killed outright only until the next streamed
trace is made beside it: folders whose owner lives, this process included, are never touched."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from concertsim.sim.infrastructure import spill_folders
from concertsim.sim.infrastructure.spill_folders import OWNER_LOCK, PREFIX, SpillFolder
from concertsim.sim.infrastructure.spilled_trace import SpillingTrace

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(spill_folders.fcntl is None, reason="no flock: folders are not swept")


@contextlib.contextmanager
def _owner(directory: Path, fork_a_child: bool = False) -> Iterator[tuple[subprocess.Popen[str], Path, int | None]]:
    """A Python process that makes a streamed trace in ``directory`` and sleeps, having forked a
    sleeping child first if asked: (the process, its trace's folder, the child's pid)."""
    code = (
        "import os, time\nfrom pathlib import Path\n"
        "from concertsim.sim.infrastructure.spilled_trace import SpillingTrace\n"
        f"trace = SpillingTrace(Path({str(directory)!r}))\n"
        f"child = os.fork() if {fork_a_child} else None\n"
        "if child == 0:\n    time.sleep(60)\n    os._exit(0)\n"
        "print(trace.folder, child, flush=True)\ntime.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
    )
    child: int | None = None
    try:
        assert process.stdout is not None
        folder, printed_child = process.stdout.readline().split()
        child = None if printed_child == "None" else int(printed_child)
        yield process, Path(folder), child
    finally:
        process.kill()
        process.wait()
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def _make_trace_in(directory: Path) -> SpillingTrace:
    spill_folders._SWEPT.discard(str(directory))  # as a fresh process would
    return SpillingTrace(directory)


def test_a_folder_left_by_an_owner_killed_outright_is_removed_by_the_next_trace(tmp_path: Path) -> None:
    with _owner(tmp_path) as (owner, folder, _):
        (folder / "call.send.marshal").write_bytes(b"spilled")
        owner.kill()  # SIGKILL: none of its clean-up runs
        owner.wait()
        assert folder.is_dir()
        trace = _make_trace_in(tmp_path)
    try:
        assert not folder.exists()
        assert trace.folder.is_dir()
    finally:
        trace.close()


def test_the_folder_of_a_living_owner_is_kept(tmp_path: Path) -> None:
    with _owner(tmp_path) as (_, other_process_folder, _):
        first = _make_trace_in(tmp_path)
        second = _make_trace_in(tmp_path)  # sweeps again, beside a folder of its own process
        try:
            assert other_process_folder.is_dir()
            assert first.folder.is_dir() and second.folder.is_dir()
        finally:
            first.close()
            second.close()


def test_a_forked_child_does_not_keep_its_killed_parent_s_folder(tmp_path: Path) -> None:
    with _owner(tmp_path, fork_a_child=True) as (owner, folder, child):
        owner.kill()
        owner.wait()
        assert child is not None
        os.kill(child, 0)  # alive, and holding what it inherited
        trace = _make_trace_in(tmp_path)
        try:
            assert not folder.exists()
        finally:
            trace.close()


def test_a_folder_without_a_lock_file_is_left_alone(tmp_path: Path) -> None:
    being_made = tmp_path / f"{PREFIX}being-made"
    being_made.mkdir()
    trace = _make_trace_in(tmp_path)
    try:
        assert being_made.is_dir()
    finally:
        trace.close()


def test_a_closed_folder_is_gone_with_its_lock(tmp_path: Path) -> None:
    folder = SpillFolder(tmp_path)
    assert (folder.path / OWNER_LOCK).is_file()
    folder.remove()
    folder.remove()  # idempotent
    assert not folder.path.exists()
