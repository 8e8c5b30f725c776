"""The "hello" baseline: a bare ASGI app on ecsram's server stack (uvicorn, uvloop, httptools).

It reads the request (ecsram does too) and answers a tiny JSON body: the most any ASGI app on
this stack can serve, so ecsram's figures divided by this one say how much of the machine's
HTTP capacity ecsram's own work leaves.

Run: ``python -m bench.hello --port 0 --workers N``; the first stdout line names the port.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from ecsram.server import bind, run_workers, stack_config

Message = dict[str, Any]
BODY = b'{"hello":"world"}'
HEADERS = [(b"content-type", b"application/json;charset=utf-8"), (b"content-length", str(len(BODY)).encode())]


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"hello listening on http://{host}:{port} ({args.workers} workers)", flush=True)
    run_workers(stack_config("bench.hello:app", workers=args.workers), [sock])


if __name__ == "__main__":
    main()
