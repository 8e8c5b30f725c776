"""Slow and stalled clients: each request must arrive whole within --request-timeout; then the
client gets 408 and its connection is closed. Meanwhile other clients are served, and a worker
buffers only a bounded amount for bodies that arrive slowly."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from ecsram.config import DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET
from ecsram.testing.server import ServerProcess
from tests.support.raw import RawClient

TIMEOUT = 2  # the servers' --request-timeout here
PATIENCE = 20  # how long a test waits for the server to act (generous: the machine may be busy)


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(extra_args=("--request-timeout", str(TIMEOUT)))


@contextlib.contextmanager
def connection(server: ServerProcess) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    try:
        yield sock
    finally:
        sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a socket timeout fails the test)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def read_response(sock: socket.socket) -> bytes:
    """One whole response on a kept-alive connection (its head and body may come in two reads)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        body += chunk
    return head + b"\r\n\r\n" + body


def error_code(response: bytes) -> tuple[int, str]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, orjson.loads(body)["Code"]


def default_client(server: ServerProcess) -> RawClient:
    return RawClient(server.endpoint, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET)


def still_open(sock: socket.socket) -> bool:
    """Open, and nothing has come from the server yet."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # data (an answer) or b"" (closed)
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        sock.setblocking(True)
    return False


def test_half_the_headers_then_silence_gets_408_and_close(server: ServerProcess) -> None:
    with connection(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: ecsram\r\nContent-Type: application/x-www-")
        assert error_code(read_until_closed(sock)) == (408, "RequestTimeout")


def test_a_connection_that_never_speaks_is_closed(server: ServerProcess) -> None:
    with connection(server) as sock:
        assert read_until_closed(sock) == b""


def test_half_a_body_then_silence_gets_408_and_close(server: ServerProcess) -> None:
    with connection(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: ecsram\r\nContent-Length: 100\r\n\r\nAction=Describe")
        assert error_code(read_until_closed(sock)) == (408, "RequestTimeout")


def test_a_trickle_does_not_extend_the_deadline(server: ServerProcess) -> None:
    # One byte every 0.2 s keeps the connection busy but never completes the request.
    with connection(server) as sock:
        sock.sendall(b"GET /?Action=DescribeRegions HTTP/1.1\r\n")
        started = time.monotonic()
        while still_open(sock) and time.monotonic() - started < PATIENCE:
            sock.sendall(b"X")
            time.sleep(0.2)
        assert error_code(read_until_closed(sock)) == (408, "RequestTimeout")


def test_a_slow_second_request_on_a_kept_alive_connection(server: ServerProcess) -> None:
    with connection(server) as sock:
        sock.sendall(b"GET /_ecsram/health HTTP/1.1\r\nHost: ecsram\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /_ecsram/health HTTP/1.1\r\nHost: ecsr")
        assert error_code(read_until_closed(sock)) == (408, "RequestTimeout")


def test_headers_that_never_end_are_cut_off(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--request-timeout", "60"))
    with connection(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: ecsram\r\n")
        for index in range(200):  # 200 KiB of headers, more than twice the 64 KiB limit
            time.sleep(0.005)
            if not still_open(sock):
                break
            sock.sendall(b"X-Filler-%03d: " % index + b"a" * 1000 + b"\r\n")
        assert error_code(read_until_closed(sock)) == (431, "RequestHeaderTooLarge")


def test_well_behaved_clients_are_served_beside_stalled_ones(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--request-timeout", "30"))
    stalled = [socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) for _ in range(100)]
    try:
        for index, sock in enumerate(stalled):
            if index % 2:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: ecsram\r\nContent-Length: 500\r\n\r\nAction=")
            else:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: ecs")
        client = default_client(server)
        for _ in range(5):
            assert client.v1("DescribeRegions").status == 200
        assert all(still_open(sock) for sock in stalled)  # they were all still waiting meanwhile
    finally:
        for sock in stalled:
            sock.close()


def test_a_complete_request_is_not_cut_off_while_it_is_answered(server: ServerProcess) -> None:
    # The deadline covers receiving a request, not answering it: a keep-alive client that waits
    # longer than the timeout between requests is answered normally on its next one.
    with connection(server) as sock:
        for _ in range(2):
            sock.sendall(b"GET /_ecsram/health HTTP/1.1\r\nHost: ecsram\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(TIMEOUT + 0.5)  # beyond the request timeout, within uvicorn's 5 s keep-alive


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory use from /proc")
def test_memory_stays_bounded_with_many_stalled_bodies(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--request-timeout", "60"))  # one worker: the server's own process
    assert server.process is not None
    pid = server.process.pid
    client = default_client(server)
    assert client.v1("DescribeRegions").status == 200
    before = _rss_kib(pid, "VmRSS")

    body = b"A" * (1024 * 1024 - 1)  # one byte short of the 1 MiB limit, so never complete
    head = b"POST / HTTP/1.1\r\nHost: ecsram\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    head += b"Content-Length: 1048576\r\n\r\n"
    stalled: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
            stalled.append(sock)
            try:
                sock.sendall(head + body)
            except (BrokenPipeError, ConnectionResetError):
                refused += 1  # answered 503 and closed before the whole body was sent
        assert client.v1("DescribeRegions").status == 200  # served while the bodies stall
        peak = _rss_kib(pid, "VmHWM")
        # Unbounded, 300 buffered bodies of 1 MiB add some 300 MiB; bounded, the slots hold 32 MiB.
        assert peak - before < 120 * 1024, f"worker grew from {before} KiB to a peak of {peak} KiB"
        assert refused > 0 or any(not still_open(sock) for sock in stalled)
    finally:
        for sock in stalled:
            sock.close()


def test_connections_beyond_the_limit_get_a_json_503(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--max-connections", "3"))
    kept: list[socket.socket] = []
    try:
        for _ in range(3):  # three kept-alive connections, each having been served once
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
            sock.sendall(b"GET /_ecsram/health HTTP/1.1\r\nHost: ecsram\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")
            kept.append(sock)
        with connection(server) as fourth:
            fourth.sendall(b"GET /_ecsram/health HTTP/1.1\r\nHost: ecsram\r\n\r\n")
            assert error_code(read_until_closed(fourth)) == (503, "ServiceUnavailable")
    finally:
        for sock in kept:
            sock.close()
    deadline = time.monotonic() + PATIENCE
    while default_client(server).v1("DescribeRegions").status != 200:  # served once they are gone
        assert time.monotonic() < deadline
        time.sleep(0.05)
