"""Writing a run's files into an output directory, atomically and without mixing runs.

A directory that concertsim wrote before carries a manifest (``.concertsim-manifest``) listing its
files; those are replaced by the next run. A non-empty directory without a manifest is refused, so a
run never scatters files among someone else's or mixes with a stale run.

Every failure to write (a full disk, a read-only file system, a permission) is an
:class:`OutputDirError` naming the file and the reason; a half-written file never takes a finished
file's name. The command line writes a whole result set through :class:`concertsim.reports.results.staging.
StagedOutput`, which swaps it in only when complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["OutputDir", "OutputDirError", "MANIFEST", "read_manifest"]

MANIFEST = ".concertsim-manifest"


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (mkstemp's 0600 is too private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class OutputDirError(Exception):
    """An output directory cannot be used or written: the message names the path and the reason.

    A failure to write one file also carries the file's name (``file``) and the operating
    system's reason (``reason``), so a caller can name the file as the user knows it.
    """

    def __init__(self, message: str, *, file: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.reason = reason


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def read_manifest(directory: Path) -> list[str] | None:
    """The file names the manifest of ``directory`` lists, or None if it has no manifest."""
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return None
    return manifest.read_text(encoding="utf-8").split()


class OutputDir:
    """An output directory prepared for one run: ``prepare`` clears the previous run's files.

    Each file is written atomically (a temporary file, then renamed) and recorded in the manifest.
    Any operating-system failure is raised as :class:`OutputDirError`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: list[str] = []

    def prepare(self) -> OutputDir:
        path = self.path
        if path.exists() and not path.is_dir():
            raise OutputDirError(f"{path}: exists and is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
            manifest = path / MANIFEST
            existing = [p.name for p in path.iterdir()]
            if existing and not manifest.exists():
                raise OutputDirError(
                    f"{path}: directory is not empty and was not written by concertsim; "
                    "choose another --out or empty it"
                )
            if manifest.exists():
                for name in manifest.read_text(encoding="utf-8").split():
                    target = path / name
                    if target.is_file() and target.parent == path:
                        target.unlink()
                manifest.unlink()
        except OSError as error:
            raise OutputDirError(f"{path}: cannot be used as an output directory ({_reason(error)})") from None
        return self

    def write_bytes_with(self, name: str, write: Callable[[BinaryIO], None]) -> Path:
        """Write ``name`` atomically: to a temporary file in the directory, then renamed.

        On any failure the temporary file is removed and nothing takes the name ``name``; an
        ``OSError`` (a full disk, say) is raised as :class:`OutputDirError`.
        """
        target = self.path / name
        try:
            descriptor, temporary = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=".tmp")
        except OSError as error:
            raise OutputDirError(f"{target}: cannot write ({_reason(error)})", file=name, reason=_reason(error)) from None
        try:
            with os.fdopen(descriptor, "wb") as out:
                write(out)
            os.chmod(temporary, _file_mode())
            os.replace(temporary, target)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise OutputDirError(f"{target}: cannot write ({_reason(error)})", file=name, reason=_reason(error)) from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._remember(name)
        return target

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes_with(name, lambda out: out.write(text.encode("utf-8")))

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

    def write_lines(self, name: str, lines: Iterable[str]) -> Path:
        def write(out: BinaryIO) -> None:
            remaining = iter(lines)
            while batch := list(islice(remaining, 4096)):  # a write per line costs as much as a short line's JSON
                out.write(("\n".join(batch) + "\n").encode("utf-8"))

        return self.write_bytes_with(name, write)

    def _remember(self, name: str) -> None:
        if name not in self.written:
            self.written.append(name)
        try:
            (self.path / MANIFEST).write_text("\n".join(self.written) + "\n", encoding="utf-8")
        except OSError as error:
            raise OutputDirError(
                f"{self.path / MANIFEST}: cannot write ({_reason(error)})", file=MANIFEST, reason=_reason(error)
            ) from None
