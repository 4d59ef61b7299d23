"""Writing a run's files into an output directory, atomically and without mixing runs.

A directory that concertsim wrote before carries a manifest (``.concertsim-manifest``) listing its
files; those are replaced by the next run. A non-empty directory without a manifest is refused, so a
run never scatters files among someone else's or mixes with a stale run.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["OutputDir", "OutputDirError"]

MANIFEST = ".concertsim-manifest"


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (mkstemp's 0600 is too private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class OutputDirError(Exception):
    pass


class OutputDir:
    """An output directory prepared for one run: ``prepare`` clears the previous run's files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: list[str] = []

    def prepare(self) -> OutputDir:
        path = self.path
        if path.exists() and not path.is_dir():
            raise OutputDirError(f"{path}: exists and is not a directory")
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
        return self

    def write_bytes_with(self, name: str, write: Callable[[BinaryIO], None]) -> Path:
        """Write ``name`` atomically: to a temporary file in the directory, then renamed."""
        target = self.path / name
        descriptor, temporary = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as out:
                write(out)
            os.chmod(temporary, _file_mode())
            os.replace(temporary, target)
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
            for line in lines:
                out.write(line.encode("utf-8"))
                out.write(b"\n")

        return self.write_bytes_with(name, write)

    def _remember(self, name: str) -> None:
        if name not in self.written:
            self.written.append(name)
        (self.path / MANIFEST).write_text("\n".join(self.written) + "\n", encoding="utf-8")
