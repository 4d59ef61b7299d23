"""Scheduler addresses are checked before anything runs; an unreachable scheduler is reported after
the connect timeout, saying how long it waited; a listener that is not a Dask scheduler is refused
within it; an interrupted sweep stops its workers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from contextlib import contextmanager

import pytest

from concertsim.cluster import NotAScheduler, SchedulerAddressError, SchedulerUnreachable, connect, scheduler_address
from concertsim.sweep import SeedResult, sweep
from tests.conftest import small_scenario


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("tls://scheduler.example:8786", "tls://scheduler.example:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
    ],
)
def test_scheduler_addresses_are_accepted_and_given_a_scheme(text: str, address: str) -> None:
    assert scheduler_address(text) == address


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("notaurl", "not a scheduler address"),
        ("tcp://10.0.0.5", "not a scheduler address"),
        ("tcp://10.0.0.5:99999", "outside 1-65535"),
        ("http://10.0.0.5:8786", "unknown scheme 'http'"),
        ("", "not a scheduler address"),
        ("tcp://host name:1", "not a scheduler address"),
    ],
)
def test_what_is_not_a_scheduler_address_is_refused_saying_what_one_looks_like(text: str, why: str) -> None:
    with pytest.raises(SchedulerAddressError) as refused:
        scheduler_address(text)
    assert why in str(refused.value) and "tcp://" in str(refused.value)


def test_an_unreachable_scheduler_is_reported_after_the_timeout_it_names() -> None:
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachable) as refused:
        connect("tcp://127.0.0.1:1", timeout=1)
    assert time.monotonic() - started < 10
    assert "within 1 s" in str(refused.value) and "--connect-timeout" in str(refused.value)


def test_an_interrupted_sweep_stops_its_workers_and_says_which_seeds_finished() -> None:
    finished: list[SeedResult] = []

    def interrupt_after_the_first(result: SeedResult) -> None:
        finished.append(result)
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        sweep(small_scenario(), range(40), workers=2, on_result=interrupt_after_the_first)
    assert len(finished) == 1
    assert time.monotonic() - started < 30, "the 39 other seeds were not all run"


@contextmanager
def _listener(greeting: bytes | None) -> Iterator[str]:
    """A loopback listener that is not a Dask scheduler: it greets with ``greeting`` on every
    connection, or (None) says nothing and waits, as a web server waits for a request."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            held.append(connection)
            if greeting is not None:
                connection.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


@pytest.mark.parametrize(
    ("greeting", "why"),
    [
        (None, "sent no Dask handshake within 1 s"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "does not speak Dask's protocol"),
        (b"HTTP/1.0 400 Bad Request\r\n\r\n", "does not speak Dask's protocol"),
        ((5).to_bytes(8, "little") + b"hello", "does not speak Dask's protocol"),
    ],
)
def test_a_listener_that_is_not_a_scheduler_is_refused_within_the_timeout(greeting: bytes | None, why: str) -> None:
    with _listener(greeting) as address:
        started = time.monotonic()
        with pytest.raises(NotAScheduler) as refused:
            connect(address, timeout=1)
    assert time.monotonic() - started < 10
    assert "is not a Dask scheduler" in str(refused.value) and why in str(refused.value)


def test_sweep_at_a_web_server_says_it_is_not_a_scheduler_with_exit_2(tmp_path: Path) -> None:
    from tests.cli.invoking import cli, refused

    with _listener(None) as address:
        result = cli("sweep", "small-opening", "--seeds", "1", "--scheduler", address,
                     "--connect-timeout", "1", "--out", str(tmp_path / "sweep"))
    assert "is not a Dask scheduler" in refused(result)


def test_a_sweep_on_a_loopback_dask_cluster_equals_the_local_one(tmp_path: Path) -> None:
    """A real scheduler and worker, bound to the loopback address only, give the same runs as the
    local process pool."""
    from dask.distributed import LocalCluster

    from tests.cli.invoking import cli

    args = ("sweep", "small-opening", "--seeds", "2", "--set", "workload.users=4", "--quiet")
    local = cli(*args, "--workers", "1", "--out", str(tmp_path / "local"))
    assert local.exit_code == 0, local.output
    with LocalCluster(host="127.0.0.1", n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None, protocol="tcp") as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        remote = cli(*args, "--scheduler", address, "--out", str(tmp_path / "remote"))
    assert remote.exit_code == 0, remote.output

    def hashes(out: Path) -> list[tuple[int, str]]:
        import json

        runs = [json.loads(line) for line in (out / "sweep.jsonl").read_text().splitlines()]
        return sorted((run["seed"], run["trace_sha256"]) for run in runs)

    assert hashes(tmp_path / "remote") == hashes(tmp_path / "local")
