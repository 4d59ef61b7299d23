"""Small file systems for tests of full disks and read-only directories.

:func:`tmpfs` mounts a tmpfs of a given size (read-only if asked) and unmounts it afterwards. It
needs the right to mount (root, or CAP_SYS_ADMIN); where that is missing the test is skipped, not
failed. :func:`read_only_directory` falls back to a directory without write permission when not
root (root ignores permissions, so as root only a read-only mount will do).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["tmpfs", "read_only_directory"]


@contextmanager
def tmpfs(path: Path, size: str = "1m", *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration of the block (or skip the test)."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("no mount command")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run([mount, "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield path
    finally:
        subprocess.run([umount, "-l", str(path)], capture_output=True)


@contextmanager
def read_only_directory(path: Path) -> Iterator[Path]:
    """A directory that refuses new entries: a read-only tmpfs as root, else mode 0555."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        with tmpfs(path, read_only=True) as mounted:
            yield mounted
        return
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o555)
    try:
        yield path
    finally:
        path.chmod(0o755)
