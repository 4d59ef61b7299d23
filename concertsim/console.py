"""The ``concertsim`` console script (and ``python -m concertsim``): Ctrl-C or SIGTERM is a clean
exit from the first instant.

Importing the command line takes a second or more (SimPy, matplotlib, Dask). A signal in that
second would otherwise print a ``KeyboardInterrupt`` traceback from deep inside an import, so this
module, which imports nothing heavy, answers it first: it says that the command was interrupted
before it started (nothing was written) and exits 130 (143 for SIGTERM). Once the command line is
imported, :func:`concertsim.cli.app.main` takes over the signals with its own clean-up.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

__all__ = ["main"]


def _before_start(signum: int, frame: FrameType | None) -> None:
    word = "terminated" if signum == signal.SIGTERM else "interrupted"
    try:
        # Straight to the file descriptor: the signal may have interrupted a write to sys.stderr
        # (an import's warning), and writing to it again from here would raise a reentrant-call
        # error and lose the message.
        os.write(2, f"{word} before the command started; nothing was written\n".encode())
    finally:
        os._exit(143 if signum == signal.SIGTERM else 130)  # no import may run its clean-up half-way


def main() -> None:
    """Guard the signals, import the command line, then hand it the signals and run it."""
    interactive = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if interactive:
        signal.signal(signal.SIGINT, _before_start)
    signal.signal(signal.SIGTERM, _before_start)
    from concertsim.cli.app import main as run_command_line

    import concertsim.cli  # noqa: F401 - registers every command

    if interactive:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    run_command_line()
