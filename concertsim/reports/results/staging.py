"""A result set written beside its target directory and swapped in only when complete.

:class:`StagedOutput` is how a command writes its results into ``--out DIR``:

1. :meth:`~StagedOutput.open`, before any simulation, takes DIR's lock
   (:class:`~concertsim.reports.results.lock.OutputLock`: one command at a time), refuses a DIR
   that holds one of the command's own inputs (replacing DIR would delete it), and checks that DIR
   can be (re)placed: it is missing, or a directory that concertsim wrote (it has a manifest and
   no file the manifest does not list); and it creates a fresh hidden directory beside DIR
   (``.DIR.XXXX.concertsim-new``, with DIR cut to 64 characters), which proves the file system
   takes writes there. Anything wrong is an :class:`OutputDirError` before a second of
   simulation is spent.
2. The command writes every file into that directory through the :class:`OutputDir` it returns.
3. :meth:`~StagedOutput.commit` swaps the complete set in: one ``rename`` if DIR does not exist,
   otherwise an atomic exchange of the two directories (Linux ``renameat2(RENAME_EXCHANGE)``; where
   that is missing, two renames with Ctrl-C held back in between), then deletes the previous set.
4. On any failure or interruption before the commit, :meth:`~StagedOutput.discard` (or leaving
   the ``with`` block) removes the new directory. DIR itself is never touched, so an earlier
   result, a found ``counterexample.yaml`` say, survives every failure of a later run.

A process killed outright (SIGKILL, power loss) cannot clean up: it may leave the hidden
``.concertsim-new`` directory beside DIR, but DIR is intact. The next command into DIR removes such
leftovers once it holds DIR's lock (:func:`_remove_leftovers`): no other command can be writing
them then. Where a fallback swap was cut off between its renames (a ``.concertsim-old`` directory
beside DIR holds the previous set), nothing is removed, so that both sets stay for the user.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from concertsim.reports.results.lock import OutputLock
from concertsim.reports.results.directory import MANIFEST, OutputDir, OutputDirError, read_manifest

__all__ = ["StagedOutput", "STAGING_SUFFIX", "PREVIOUS_SUFFIX"]

STAGING_SUFFIX = ".concertsim-new"
PREVIOUS_SUFFIX = ".concertsim-old"


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _directory_mode() -> int:
    """The mode a plain ``mkdir`` would give (mkdtemp's 0700 is too private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _leftovers_pattern(target: Path, suffix: str) -> re.Pattern[str]:
    """The names ``tempfile.mkdtemp`` gives the hidden directories of ``target`` ending in ``suffix``
    (eight random characters between the cut name and the suffix), and no others."""
    return re.compile(re.escape(f".{target.name[:64]}.") + "[a-z0-9_]{8}" + re.escape(suffix))


def _remove_leftovers(target: Path) -> None:
    """Remove the staging directories that commands into ``target`` killed outright left beside
    it. Call only while holding ``target``'s lock, which every such command held (targets whose
    names share their first 64 characters share one). Nothing is removed beside a
    ``.concertsim-old`` directory, nor anything that cannot be."""
    staged, previous = _leftovers_pattern(target, STAGING_SUFFIX), _leftovers_pattern(target, PREVIOUS_SUFFIX)
    try:
        names = sorted(entry.name for entry in os.scandir(target.parent))
    except OSError:
        return
    if any(previous.fullmatch(name) for name in names):
        return
    for name in names:
        if staged.fullmatch(name):
            shutil.rmtree(target.parent / name, ignore_errors=True)


def _is_leftover_temporary(name: str) -> bool:
    """A temporary file of an interrupted atomic write (see ``OutputDir.write_bytes_with``)."""
    return name.startswith(".") and name.endswith(".tmp")


class StagedOutput:
    """Results for ``target`` written into a new sibling directory and swapped in when complete.

    Use as a context manager: leaving the block without :meth:`commit` (an exception, Ctrl-C)
    removes everything written. ``target`` is shown in messages as the user gave it.
    """

    def __init__(self, target: Path, inputs: tuple[Path, ...] = ()) -> None:
        self.shown = target
        self.target = target
        self.inputs = inputs
        """Files the command reads (a replayed scenario file): none may lie inside the target."""
        self._lock: OutputLock | None = None
        self.staging: Path | None = None
        self.output: OutputDir | None = None
        self.committed = False
        self.replaces_previous = False
        """Whether the target holds an earlier result set (known after :meth:`open`)."""
        self._created_parents: list[Path] = []

    # --- before the run ----------------------------------------------------------------------------

    def open(self) -> OutputDir:
        """Check that the target can take a result set and create the staging directory.

        Raises :class:`OutputDirError` (naming the path and the reason) if the target is a file,
        a broken link, a directory of files concertsim did not write, or on a file system or in
        a directory that refuses writes.
        """
        try:
            self.target = self._resolved_target()
            self._refuse_inputs_inside(self.target)
            self._check_replaceable(self.target)
        except OSError as error:
            raise OutputDirError(f"{self.shown}: cannot be used as an output directory ({_reason(error)})") from None
        parent = self.target.parent
        self._create_parents(parent)
        try:
            self._lock = OutputLock(self.target, self.shown)
            self._lock.acquire()
            self._check_replaceable(self.target)  # again, now that no other command can change it
            self.replaces_previous = self.target.is_dir() and read_manifest(self.target) is not None
            _remove_leftovers(self.target)
            staging = tempfile.mkdtemp(prefix=f".{self.target.name[:64]}.", suffix=STAGING_SUFFIX, dir=parent)
        except (OSError, OutputDirError) as error:
            self._release_lock()
            self._remove_created_parents()
            if isinstance(error, OutputDirError):
                raise
            raise OutputDirError(
                f"{self.shown}: cannot write results there ({_reason(error)}); choose another --out"
            ) from None
        self.staging = Path(staging)
        self.output = OutputDir(self.staging)
        return self.output

    def _resolved_target(self) -> Path:
        target = self.shown
        if target.is_symlink() and not target.exists():
            raise OutputDirError(f"{self.shown}: is a broken symbolic link")
        resolved = Path(os.path.abspath(target))
        if target.is_symlink():
            resolved = target.resolve()
        if resolved.parent == resolved:
            raise OutputDirError(f"{self.shown}: a file system root cannot be an output directory")
        if resolved.exists() and Path.cwd().resolve().is_relative_to(resolved.resolve()):
            raise OutputDirError(
                f"{self.shown}: is the current directory or contains it; choose a directory below it"
            )
        return resolved

    def _refuse_inputs_inside(self, target: Path) -> None:
        for given in self.inputs:
            if Path(os.path.abspath(given)).resolve().is_relative_to(target.resolve()):
                raise OutputDirError(
                    f"{self.shown}: holds {given}, which this command reads; replacing the results "
                    "would delete it. Choose another --out (or copy the file out first)"
                )

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _check_replaceable(self, target: Path) -> None:
        if not target.exists():
            return
        if not target.is_dir():
            raise OutputDirError(f"{self.shown}: exists and is not a directory")
        try:
            entries = sorted(p.name for p in target.iterdir())
            listed = read_manifest(target)
        except OSError as error:
            raise OutputDirError(f"{self.shown}: cannot be read ({_reason(error)})") from None
        if not entries:
            return
        if listed is None:
            raise OutputDirError(
                f"{self.shown}: directory is not empty and was not written by concertsim; "
                "choose another --out or empty it"
            )
        foreign = [
            name for name in entries
            if name != MANIFEST and name not in listed and not _is_leftover_temporary(name)
        ]
        if foreign:
            raise OutputDirError(
                f"{self.shown}: holds files concertsim did not write ({', '.join(foreign[:5])}"
                f"{', ...' if len(foreign) > 5 else ''}), which replacing the results would delete; "
                "move them elsewhere or choose another --out"
            )

    def _create_parents(self, parent: Path) -> None:
        missing = []
        for folder in (parent, *parent.parents):
            if folder.exists():
                break
            missing.append(folder)
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            except OSError as error:
                self._remove_created_parents()
                raise OutputDirError(f"{self.shown}: cannot create {folder} ({_reason(error)})") from None
            self._created_parents.append(folder)

    # --- after the run ------------------------------------------------------------------------------

    def commit(self) -> Path:
        """Put the complete result set in place of the target, atomically, and delete the previous
        set. Raises :class:`OutputDirError` if the swap fails; the target is then unchanged."""
        if self.staging is None:
            raise RuntimeError("commit() before open()")
        staging, target = self.staging, self.target
        try:
            os.chmod(staging, _directory_mode())
            with _signals_held():
                self._check_replaceable(target)
                previous = self._swap(staging, target)
        except OSError as error:
            self.discard()
            raise OutputDirError(
                f"{self.shown}: cannot put the new results in place ({_reason(error)}); "
                "the previous results are unchanged"
            ) from None
        except OutputDirError:
            self.discard()
            raise
        self.committed = True
        self.staging = None
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        return target

    def _swap(self, staging: Path, target: Path) -> Path | None:
        """Move ``staging`` to ``target``; return where the previous set went (None if none)."""
        if not target.exists():
            os.rename(staging, target)
            return None
        if _exchange(staging, target):
            return staging
        previous = Path(tempfile.mkdtemp(prefix=f".{target.name[:64]}.", suffix=PREVIOUS_SUFFIX, dir=target.parent))
        os.rmdir(previous)
        os.rename(target, previous)
        try:
            os.rename(staging, target)
        except OSError:
            os.rename(previous, target)
            raise
        return previous

    def discard(self) -> None:
        """Remove everything written so far (and the parent directories ``open`` created)."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        self._release_lock()
        self._remove_created_parents()

    def _remove_created_parents(self) -> None:
        for folder in reversed(self._created_parents):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created_parents = []

    def __enter__(self) -> StagedOutput:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if not self.committed:
            self.discard()
        self._release_lock()


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (delivered afterwards) while the two directories change
    places, so Ctrl-C cannot fall between the renames of the fallback swap."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Atomically exchange two directories (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Returns False where the system or the file system does not offer it; raises ``OSError`` for
    any other failure.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))
