"""A result set is written beside its target and swapped in only when complete: no failure, full
disk or interruption destroys an earlier result, and nothing is left behind."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import BinaryIO

import pytest

from concertsim.reports.results import staging
from concertsim.reports.results.directory import MANIFEST, OutputDir, OutputDirError
from concertsim.reports.results.staging import StagedOutput
from tests.mounts import read_only_directory, tmpfs


def previous_set(target: Path) -> None:
    """An earlier concertsim result in ``target``: counterexample.yaml and a manifest."""
    with StagedOutput(target) as staged:
        output = staged.open()
        output.write_text("counterexample.yaml", "the old counterexample\n")
        output.write_text("summary.json", "{}\n")
        staged.commit()


def siblings(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name != target.name)


def test_a_new_set_appears_whole_with_its_manifest_and_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with StagedOutput(target) as staged:
        output = staged.open()
        output.write_text("summary.json", "{}\n")
        assert not target.exists(), "nothing is visible before the commit"
        staged.commit()
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST, "summary.json"]
    assert siblings(target) == []
    assert oct(target.stat().st_mode & 0o777) != oct(0o700), "ordinary permissions, not mkdtemp's"


def test_a_previous_set_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    previous_set(target)
    with StagedOutput(target) as staged:
        staged.open().write_text("summary.json", '{"new": true}\n')
        assert staged.replaces_previous
        staged.commit()
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST, "summary.json"]
    assert "new" in (target / "summary.json").read_text()
    assert siblings(target) == []


@pytest.mark.parametrize("failure", [RuntimeError("the simulation failed"), KeyboardInterrupt()])
def test_a_failure_or_an_interruption_keeps_the_previous_set(tmp_path: Path, failure: BaseException) -> None:
    target = tmp_path / "out"
    previous_set(target)
    with pytest.raises(type(failure)):
        with StagedOutput(target) as staged:
            staged.open().write_text("summary.json", "half of a new result\n")
            raise failure
    assert (target / "counterexample.yaml").read_text() == "the old counterexample\n"
    assert siblings(target) == []


def test_parents_created_for_a_run_that_failed_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError):
        with StagedOutput(target) as staged:
            staged.open()
            raise RuntimeError("failed")
    assert list(tmp_path.iterdir()) == []


def test_the_swap_works_without_an_atomic_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "_exchange", lambda first, second: False)
    target = tmp_path / "out"
    previous_set(target)
    with StagedOutput(target) as staged:
        staged.open().write_text("report.md", "# new\n")
        staged.commit()
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST, "report.md"]
    assert siblings(target) == []


def killed_while_writing(target: Path, name: str = "summary.json") -> Path:
    """The staging directory a command into ``target`` leaves when it is killed outright while
    writing: nothing of its own clean-up runs, and the kernel lets go of its lock."""
    killed = StagedOutput(target)
    killed.open().write_text(name, "half of a result\n")
    assert killed.staging is not None
    killed._release_lock()
    return killed.staging


def test_what_a_command_killed_outright_left_is_removed_by_the_next_one(tmp_path: Path) -> None:
    target = tmp_path / "out"
    previous_set(target)
    first = killed_while_writing(target)
    second = killed_while_writing(target)  # killed in turn: it has removed the first's already
    assert not first.exists() and second.is_dir()
    with StagedOutput(target) as staged:
        staged.open().write_text("summary.json", '{"new": true}\n')
        staged.commit()
    assert siblings(target) == []
    assert "new" in (target / "summary.json").read_text()


def test_what_another_directory_s_command_is_writing_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "out"
    for other in (tmp_path / "out.b", tmp_path / "ou"):  # names that begin alike
        with StagedOutput(other) as writing:
            writing.open()
            with StagedOutput(target) as staged:
                staged.open()
                staged.commit()
            assert writing.staging is not None and writing.staging.is_dir()


def test_nothing_is_removed_beside_a_fallback_swap_cut_off_between_its_renames(tmp_path: Path) -> None:
    target = tmp_path / "out"
    previous_set(target)
    left = killed_while_writing(target)
    cut_off = tmp_path / ".out.q7x2k9z_.concertsim-old"  # the previous set, moved aside
    target.rename(cut_off)
    with StagedOutput(target) as staged:
        staged.open()
        staged.commit()
    assert left.is_dir() and (cut_off / "counterexample.yaml").is_file()


# --- what is refused before anything runs --------------------------------------------------------------


def test_a_directory_of_other_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputDirError, match="not written by concertsim"):
        StagedOutput(tmp_path).open()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_result_directory_with_a_file_of_the_users_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"
    previous_set(target)
    (target / "my-notes.txt").write_text("keep me")
    with pytest.raises(OutputDirError, match="my-notes.txt"):
        StagedOutput(target).open()
    assert (target / "my-notes.txt").exists() and siblings(target) == []


def test_a_file_and_a_broken_link_are_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError, match="not a directory"):
        StagedOutput(tmp_path / "file").open()
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputDirError, match="broken symbolic link"):
        StagedOutput(tmp_path / "link").open()


def test_a_link_to_a_result_directory_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    previous_set(real)
    (tmp_path / "link").symlink_to(real)
    with StagedOutput(tmp_path / "link") as staged:
        staged.open().write_text("summary.json", "{}\n")
        staged.commit()
    assert (tmp_path / "link").is_symlink() and (real / "summary.json").exists()
    assert not (real / "counterexample.yaml").exists()


def test_a_read_only_place_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with read_only_directory(tmp_path / "ro") as folder:
        with pytest.raises(OutputDirError) as refused:
            StagedOutput(folder / "out").open()
        message = str(refused.value)
        assert "cannot" in message and "\n" not in message
        assert "Read-only file system" in message or "Permission denied" in message


# --- a full disk ------------------------------------------------------------------------------------


def test_an_injected_full_disk_fails_the_write_and_keeps_the_previous_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    previous_set(target)
    original = OutputDir.write_bytes_with

    def full_after_summary(self: OutputDir, name: str, write) -> Path:  # type: ignore[no-untyped-def]
        if name == "report.html":
            def failing(out: BinaryIO) -> None:
                out.write(b"<html>half")
                raise OSError(errno.ENOSPC, "No space left on device")

            return original(self, name, failing)
        return original(self, name, write)

    monkeypatch.setattr(OutputDir, "write_bytes_with", full_after_summary)
    with pytest.raises(OutputDirError) as refused:
        with StagedOutput(target) as staged:
            output = staged.open()
            output.write_text("summary.json", "{}\n")
            output.write_text("report.html", "<html></html>")
            staged.commit()
    assert refused.value.file == "report.html" and refused.value.reason == "No space left on device"
    assert (target / "counterexample.yaml").read_text() == "the old counterexample\n"
    assert siblings(target) == []


def test_a_tiny_file_system_fills_up_and_keeps_the_previous_set(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "512k") as mounted:
        target = mounted / "out"
        previous_set(target)
        with pytest.raises(OutputDirError, match="No space left on device"):
            with StagedOutput(target) as staged:
                output = staged.open()
                output.write_text("summary.json", "{}\n")
                output.write_bytes_with("trace.jsonl", lambda out: out.write(b"x" * 2_000_000))
                staged.commit()
        assert (target / "counterexample.yaml").read_text() == "the old counterexample\n"
        assert siblings(target) == []


def test_a_name_too_long_for_the_file_system_is_refused_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(OutputDirError, match="File name too long"):
        StagedOutput(tmp_path / ("n" * 300)).open()
    assert list(tmp_path.iterdir()) == []
