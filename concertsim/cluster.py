"""Dask scheduler addresses: checked before anything runs, connected to within a stated time.

``sweep --scheduler ADDRESS`` (and any command that runs on a cluster) calls
:func:`scheduler_address` on the user's text before spending a second, and :func:`connect` with a
connect timeout whose value the error message repeats.

Dask's client trusts what answers at the address: a listener that is not a scheduler (a web server
that waits for a request, a service that greets first) makes it wait forever for a handshake, or
read the greeting as a frame length and try to allocate exabytes. :func:`connect` therefore first
reads the scheduler's handshake itself over ``tcp://`` (a Dask scheduler sends it as soon as it
accepts a connection), bounded by the same timeout, and refuses anything else as
:class:`NotAScheduler`.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = [
    "SchedulerAddressError",
    "SchedulerUnreachable",
    "NotAScheduler",
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


class NotAScheduler(SchedulerUnreachable):
    """Something answered at the address, but not with a Dask scheduler's handshake."""


_HANDSHAKE_MAX_BYTES = 1 << 20
"""A scheduler's handshake is a few dozen bytes; a longer "length" is someone else's greeting."""


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
    if checked.startswith("tcp://"):
        _expect_handshake(checked, timeout)
    try:
        return Client(checked, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise SchedulerUnreachable(
            f"no Dask scheduler answered at {checked} within {timeout:g} s ({error}); "
            "check the address, or wait longer with --connect-timeout"
        ) from None


def _expect_handshake(address: str, timeout: float) -> None:
    """Read the handshake a Dask scheduler sends on accepting a ``tcp://`` connection, within
    ``timeout`` seconds in all; raise :class:`SchedulerUnreachable` if nothing accepts, and
    :class:`NotAScheduler` if what answers does not speak Dask's protocol."""
    from distributed.protocol.core import loads
    from distributed.protocol.utils import unpack_frames

    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    not_dask = f"{address} is not a Dask scheduler: "
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as probe:
            (length,) = struct.unpack("Q", _receive(probe, 8, deadline))  # Dask's tcp framing
            if not 0 < length <= _HANDSHAKE_MAX_BYTES:
                raise NotAScheduler(not_dask + "what answered there does not speak Dask's protocol")
            handshake = loads(unpack_frames(_receive(probe, length, deadline)))
    except TimeoutError:
        raise NotAScheduler(
            not_dask + f"it accepted the connection but sent no Dask handshake within {timeout:g} s; "
            "check the address (a scheduler listens on port 8786 by default)"
        ) from None
    except OSError as error:
        raise SchedulerUnreachable(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({error.strerror or error}); "
            "check the address, or wait longer with --connect-timeout"
        ) from None
    except NotAScheduler as error:
        raise NotAScheduler(not_dask + str(error) if not str(error).startswith(not_dask) else str(error)) from None
    except Exception:  # noqa: BLE001 - any failure to decode means it is not Dask's handshake
        raise NotAScheduler(not_dask + "what answered there does not speak Dask's protocol") from None
    if not isinstance(handshake, dict) or "python" not in handshake:
        raise NotAScheduler(not_dask + "what answered there does not speak Dask's protocol")


def _receive(connection: socket.socket, size: int, deadline: float) -> bytes:
    """Exactly ``size`` bytes, or ``TimeoutError`` at ``deadline`` (``ConnectionError`` if closed)."""
    received = bytearray()
    while len(received) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        connection.settimeout(left)
        chunk = connection.recv(size - len(received))
        if not chunk:
            raise NotAScheduler("the listener closed the connection without a Dask handshake")
        received += chunk
    return bytes(received)
