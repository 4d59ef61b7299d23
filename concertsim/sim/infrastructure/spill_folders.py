"""The folders streamed traces spill into: each locked by its owner for its whole life, and swept
once the owner is gone.

A streamed trace removes its folder when it is closed or collected, and at the interpreter's exit
(:class:`~concertsim.sim.infrastructure.spilled_trace.SpillingTrace`). A process killed outright
(``SIGKILL``, the kernel's out-of-memory killer, a lost machine) runs none of that, and its folder,
up to gigabytes for a large run, would stay in ``TMPDIR``. So each folder holds a lock file that its
owner keeps ``flock``-ed while the folder lives; the kernel lets go of that lock when the owner ends,
however it ends. The first folder a process makes in a directory sweeps that directory: every
``concertsim-trace-*`` folder whose lock it can take has no owner left, and is removed.

Contract: a folder is removed only when its lock could be taken. A folder without a lock file (one
being made at that moment, or made by something else under the same prefix) is left alone, and so
is every folder whose owner lives, in this process too (a second descriptor's ``flock`` is refused).
Forked children let go of the lock (:mod:`concertsim.held_locks`), so a pool worker outliving a
killed owner does not keep its folder. Sweeping never fails a run: what it cannot read or remove
it leaves. Where ``fcntl`` is missing (Windows), folders are made without a lock and none are swept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from concertsim.held_locks import hold, let_go

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

__all__ = ["SpillFolder", "PREFIX", "OWNER_LOCK"]

PREFIX = "concertsim-trace-"
OWNER_LOCK = ".owner.lock"
"""The lock file in each folder, held by the folder's owner."""

_SWEPT: set[str] = set()
"""Directories this process has swept already: once per process is enough."""


class SpillFolder:
    """A new, private folder under ``directory`` (the system's temporary folder by default), locked
    by this process until :meth:`remove`. Raises ``OSError`` if it cannot be made."""

    def __init__(self, directory: Path | str | None = None) -> None:
        parent = str(directory) if directory is not None else tempfile.gettempdir()
        sweep_abandoned(parent)
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        self._lock: int | None = None
        if fcntl is not None:
            descriptor = os.open(self.path / OWNER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else has it
            hold(descriptor)
            self._lock = descriptor

    def remove(self) -> None:
        """Remove the folder and everything in it, then let go of its lock; idempotent."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            let_go(self._lock)
            os.close(self._lock)
            self._lock = None


def sweep_abandoned(directory: str) -> None:
    """Remove every spill folder in ``directory`` whose owner is gone (see the module's contract),
    the first time this process asks about ``directory``."""
    if fcntl is None or directory in _SWEPT:
        return
    _SWEPT.add(directory)
    try:
        candidates = [entry.path for entry in os.scandir(directory) if entry.name.startswith(PREFIX)]
    except OSError:
        return
    for folder in sorted(candidates):
        try:
            descriptor = os.open(os.path.join(folder, OWNER_LOCK), os.O_RDWR)
        except OSError:
            continue  # no lock file: being made, or not a spill folder of ours
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)  # its owner holds it
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(descriptor)
