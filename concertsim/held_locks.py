"""File locks this process holds, let go of in every forked child.

A ``flock`` lock belongs to the open file, which ``fork`` shares: a pool worker left running by a
killed command would keep a sweep's journal or a result directory locked and refuse every later
command. Each lock taken is registered here with :func:`hold`; in a forked child, each registered
descriptor is pointed at ``/dev/null``, so the lock dies with the process that took it.
"""

from __future__ import annotations

import os

__all__ = ["hold", "let_go"]

_HELD: set[int] = set()


def hold(descriptor: int) -> None:
    """Register ``descriptor``, whose file this process has locked."""
    _HELD.add(descriptor)


def let_go(descriptor: int) -> None:
    """Forget ``descriptor`` (its lock is being released)."""
    _HELD.discard(descriptor)


def _let_go_in_child() -> None:
    for descriptor in list(_HELD):
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, descriptor)
            os.close(null)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_let_go_in_child)
