"""A helper process that ends with the process that started it (Linux), even one killed outright.

A parent stopped by SIGKILL runs no clean-up, so it cannot stop its helpers: a sweep's pool workers
would wait for work forever, a trace's serializer would write on for a run no one reads. Linux
ends a process whose parent died if it asked to be (``prctl(PR_SET_PDEATHSIG)``); elsewhere this
does nothing, and such a helper ends when its work does.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["end_with_parent"]

_PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int | None) -> None:
    """In a helper started by process ``parent``: be sent SIGTERM when that parent ends, and exit
    at once if it has already ended (it died before the request was made). None: nothing to do."""
    if not sys.platform.startswith("linux") or parent is None:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)
