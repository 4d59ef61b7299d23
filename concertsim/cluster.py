"""Dask scheduler addresses: checked before anything runs, connected to within a stated time.

``sweep --scheduler ADDRESS`` (and any command that runs on a cluster) calls
:func:`scheduler_address` on the user's text before spending a second, and :func:`connect` with a
connect timeout whose value the error message repeats.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = [
    "SchedulerAddressError",
    "SchedulerUnreachable",
    "scheduler_address",
    "connect",
    "DEFAULT_CONNECT_TIMEOUT",
    "SCHEMES",
]

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler to answer (Dask's own default is 30)."""
SCHEMES = ("tcp", "tls", "ws", "wss")

_ADDRESS = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$"
)


class SchedulerAddressError(ValueError):
    """The text given is not a scheduler address."""


class SchedulerUnreachable(Exception):
    """No scheduler answered at the address within the connect timeout."""


def scheduler_address(text: str) -> str:
    """``text`` as a Dask scheduler address ``SCHEME://HOST:PORT`` (``tcp://`` if no scheme).

    Raises :class:`SchedulerAddressError` saying what is wrong and what an address looks like.
    """
    example = "tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise SchedulerAddressError(f"{text!r} is not a scheduler address (expected {example})")
    scheme = match["scheme"] or "tcp"
    if scheme not in SCHEMES:
        raise SchedulerAddressError(
            f"{text!r} is not a scheduler address: unknown scheme {scheme!r}, not one of "
            f"{', '.join(SCHEMES)} (expected {example})"
        )
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise SchedulerAddressError(
            f"{text!r} is not a scheduler address: port {port} is outside 1-65535 (expected {example})"
        )
    return f"{scheme}://{match['host']}:{port}"


def connect(address: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Client:
    """A Dask client of the scheduler at ``address``; :class:`SchedulerUnreachable` if none
    answers within ``timeout`` seconds (the message says how long it waited)."""
    from dask.distributed import Client

    checked = scheduler_address(address)
    try:
        return Client(checked, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise SchedulerUnreachable(
            f"no Dask scheduler answered at {checked} within {timeout:g} s ({error}); "
            "check the address, or wait longer with --connect-timeout"
        ) from None
