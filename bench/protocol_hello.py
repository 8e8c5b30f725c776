"""The server stack's floor: a "hello" answered by a bare ``asyncio.Protocol`` with httptools on
uvloop, no ASGI. Beside ``bench.hello`` (the same answer through uvicorn's ASGI cycle) it shows
what uvicorn's per-request machinery costs, which is the part of a request ecsram's direct path
(``transport.py``) leaves out.

Run: ``python -m bench.protocol_hello --port 8001``, then ``wrk -t1 -c16 -d5 http://127.0.0.1:8001/``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import cast

import httptools
import uvloop

from bench.hello import BODY

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json;charset=utf-8\r\ncontent-length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


class ParsingProtocol(asyncio.Protocol):
    """A connection whose bytes httptools parses, calling the subclass's ``on_*`` methods."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass, though it is one in use.
        self.transport = cast(asyncio.Transport, transport)
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()


class HelloProtocol(ParsingProtocol):
    def on_message_complete(self) -> None:
        self.transport.write(ANSWER)


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(HelloProtocol, host, port)
    print(f"protocol hello listening on http://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
