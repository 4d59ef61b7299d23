"""A disk that fills up mid-way, under any file concertsim writes (a sweep's journal, a streamed
trace's spill files), is exit 2 naming the file and the reason, with earlier results kept."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest

import concertsim.sim.infrastructure.spilled_trace as spilled_trace
import concertsim.sweep.journal as journal_module
from tests.cli.invoking import cli, refused

FAST = ["--set", "workload.users=4", "--set", "workload.duration=20"]


class _FullDisk(io.RawIOBase):
    """A file that takes ``room`` bytes, then fails every write (and the flush at close) as a
    full disk does."""

    def __init__(self, room: int) -> None:
        self.room = room
        self._descriptor = os.open(os.devnull, os.O_WRONLY)

    def fileno(self) -> int:
        return self._descriptor

    def close(self) -> None:
        if not self.closed:
            os.close(self._descriptor)
        super().close()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return len(data)


def test_a_streamed_run_whose_spill_disk_fills_is_exit_2_and_keeps_the_earlier_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert cli("run", "small-opening", *FAST, "--out", str(out), "--quiet").exit_code == 0
    earlier = (out / "summary.json").read_bytes()
    real_open = Path.open

    def filling(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self.suffix == ".marshal" and "a" in mode:
            return _FullDisk(room=0)
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(spilled_trace.Path, "open", filling)
    message = refused(cli("run", "small-opening", *FAST, "--trace-mode", "stream", "--out", str(out)))
    assert "cannot keep the streamed trace in" in message and "No space left on device" in message
    assert "TMPDIR" in message and "Earlier results in --out are kept" in message
    assert (out / "summary.json").read_bytes() == earlier


def test_a_sweep_whose_journal_disk_fills_is_exit_2_saying_what_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_start = journal_module._start

    def start_on_a_full_disk(*args: Any, **kwargs: Any) -> Any:
        journal = real_start(*args, **kwargs)
        journal._stream.close()
        journal._stream = io.BufferedWriter(_FullDisk(room=10), buffer_size=8192)
        return journal

    monkeypatch.setattr(journal_module, "_start", start_on_a_full_disk)
    message = refused(cli("sweep", "small-opening", *FAST, "--seeds", "3", "--workers", "1",
                          "--out", str(tmp_path / "sweep")))
    assert "sweep.jsonl: cannot write (No space left on device)" in message
    assert "--resume" in message
    assert not (tmp_path / "sweep").exists()
