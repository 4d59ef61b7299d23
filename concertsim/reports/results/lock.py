"""One command at a time writes a result directory: a lock beside ``--out``.

Two commands given the same ``--out`` at once (a ``run`` and an ``explore``, say) would each swap
their result in, and the later swap deletes what the earlier one just told its user to open ("replay
with OUT/counterexample.yaml"). Every command that writes a result directory therefore takes
:class:`OutputLock` on it first: an exclusive ``flock`` on a hidden file beside the directory
(``.NAME.concertsim-lock``), held until the command ends. A second command is refused at once
(:class:`~concertsim.reports.results.directory.OutputDirError`, exit 2), before any simulation.

The lock belongs to this process alone: a child forked while it is held (a pool worker) lets go of
its copy at once, so a worker left running by a killed command cannot keep the directory locked.
The lock file is removed on release; a process that finds, after locking, that the file it locked
is no longer the one at the path (another process released and removed it meanwhile) locks again.
"""

from __future__ import annotations

import os
from pathlib import Path

from concertsim.held_locks import hold, let_go
from concertsim.reports.results.directory import OutputDirError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS: no lock, the rest works
    fcntl = None  # type: ignore[assignment]

__all__ = ["OutputLock", "LOCK_SUFFIX"]

LOCK_SUFFIX = ".concertsim-lock"

class OutputLock:
    """The exclusive right of this process to write the result directory ``target``.

    ``target`` is the resolved directory; ``shown`` is how the user named it, for messages.
    :meth:`acquire` raises :class:`OutputDirError` if another command holds it."""

    def __init__(self, target: Path, shown: Path) -> None:
        self.path = target.parent / f".{target.name[:64]}{LOCK_SUFFIX}"
        self.shown = shown
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> None:
        if fcntl is None or self.held:
            return
        while True:
            try:
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise OutputDirError(
                    f"{self.shown}: cannot write results there ({error.strerror or error}); choose another --out"
                ) from None
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise OutputDirError(
                    f"{self.shown}: another concertsim command is writing results there right now; "
                    "wait for it to finish or choose another --out"
                ) from None
            if self._still_at_path(descriptor):
                break
            os.close(descriptor)
        self._descriptor = descriptor
        hold(descriptor)

    def _still_at_path(self, descriptor: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(descriptor)
        return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)

    def release(self) -> None:
        """Remove the lock file and let go of it (nothing if not held)."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        let_go(descriptor)
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(descriptor)
