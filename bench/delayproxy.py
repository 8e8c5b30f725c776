"""A TCP delay proxy: what a database on another host adds to every round trip, on loopback.

It listens on 127.0.0.1 (a free port unless given) and forwards each connection to an upstream
on loopback (PostgreSQL at 127.0.0.1:5432 by default), holding every chunk of bytes for
``--delay-ms`` in each direction before passing it on, in the order it arrived. The delay is a
latency, not a bandwidth limit: chunks that arrive while earlier ones wait are stamped on
arrival and leave ``delay`` after it, so a connection that sends several statements without
waiting (pipelining) pays the delay once, as it would on a real network.

The event loop runs on ``select()``, whose timeout has microsecond resolution: epoll and poll
count their timeouts in milliseconds, which would turn a 0.5 ms delay into a 1 ms one.

Run: ``python -m bench.delayproxy --delay-ms 0.5 [--port P] [--upstream 127.0.0.1:5432]``; the first
stdout line is ``delay proxy listening on http://127.0.0.1:PORT ...`` (``bench.servers`` reads it);
SIGUSR1 makes it print a ``counts upstream_chunks=N downstream_chunks=M round_trips=R connections=C``
line (a round trip: client bytes after an answer; statements pipelined together count once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import selectors
import signal
import socket

CHUNK = 65536


def loopback(host: str) -> str:
    """Refuse anything but a loopback address: the benchmark talks to this machine only."""
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"delay proxy: {host} is not a loopback address")
    return host


async def _forward(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    counts: dict[str, int],
    name: str,
    last: list[str],
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        try:
            while data := await reader.read(CHUNK):
                queue.put_nowait((loop.time() + delay, data))
                counts[name] += 1
                # A client chunk after an answer (or first on its connection) starts a round trip;
                # chunks the client sends without waiting in between (pipelining) do not.
                if name == "upstream_chunks" and last[0] != "up":
                    counts["round_trips"] += 1
                last[0] = "up" if name == "upstream_chunks" else "down"
        except OSError:
            pass
        finally:
            queue.put_nowait((loop.time() + delay, b""))

    receiver = asyncio.create_task(receive())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
    except OSError:
        return
    finally:
        receiver.cancel()


class DelayProxy:
    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        # Chunks read from the clients and from the upstream, round trips, connections accepted.
        self.counts = {"upstream_chunks": 0, "downstream_chunks": 0, "round_trips": 0, "connections": 0}

    def report(self) -> None:
        print("counts " + " ".join(f"{k}={v}" for k, v in self.counts.items()), flush=True)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.counts["connections"] += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        for writer in (client_writer, server_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        last = [""]  # the direction of the connection's latest chunk
        try:
            await asyncio.gather(
                _forward(client_reader, server_writer, self.delay, self.counts, "upstream_chunks", last),
                _forward(server_reader, client_writer, self.delay, self.counts, "downstream_chunks", last),
            )
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


async def serve(host: str, port: int, upstream: tuple[str, int], delay: float) -> None:
    proxy = DelayProxy(upstream, delay)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, proxy.report)
    server = await asyncio.start_server(proxy.handle, host, port)
    bound = server.sockets[0].getsockname()
    print(
        f"delay proxy listening on http://{bound[0]}:{bound[1]} -> {upstream[0]}:{upstream[1]}, "
        f"{delay * 1000:g} ms each way",
        flush=True,
    )
    async with server:
        await server.serve_forever()


def new_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers are precise to microseconds (select(), not epoll)."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream", default="127.0.0.1:5432", help="HOST:PORT on loopback")
    parser.add_argument("--delay-ms", type=float, default=0.5, help="added in each direction")
    args = parser.parse_args()
    up_host, _, up_port = args.upstream.rpartition(":")
    upstream = (loopback(up_host), int(up_port))
    # The delay is only as exact as the proxy is prompt: on a busy machine a timer that fires
    # waits for a CPU for milliseconds. Where allowed (root), the proxy takes the lowest real-time
    # priority, so it runs the moment it wakes; it sleeps between chunks and uses little CPU.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    loop = new_loop()
    try:
        loop.run_until_complete(serve(loopback(args.host), args.port, upstream, args.delay_ms / 1000.0))
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()


if __name__ == "__main__":
    main()
