"""The HTTP protocol of a worker: uvicorn's httptools protocol with a deadline for each request.

uvicorn 0.54 bounds only the idle time between two requests (keep-alive). A client that opens a
connection and sends nothing, half a request line, headers without their end, or half a body
would hold the connection, and what it has sent, for as long as it likes. Here a request must
arrive whole within ``--request-timeout`` seconds, counted from the connection's opening for its
first request and from the first byte of each later one. When time is up the client gets
``408 RequestTimeout`` if it had started a request (and no response is under way on the
connection), and the connection is closed; the application then sees a disconnect.

The deadline costs nothing on the usual path: a request that arrives in one read completes
before the read returns, and the timer is armed only when a read ends inside a request. Once a
request is complete its deadline ends: a slow answer (say, a database outage) is never cut off.
(Timing the application's body reads instead, with ``asyncio.timeout`` or ``wait_for`` around
``receive()``, costs 14-16 µs per request on the development machine.)
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from ecsram.config import Settings
from ecsram.contract.errors import ApiError
from ecsram.gateway import render
from ecsram.responses import Response

log = logging.getLogger("ecsram")

_IDLE, _HEADERS, _BODY = 0, 1, 2
# A request with a body up to this size, declared by Content-Length, is read whole before it
# goes to the application (uvicorn buffers that much anyway); a larger or chunked body, or one
# behind ``Expect: 100-continue``, goes to the ASGI application as it arrives.
DIRECT_BODY_BYTES = 64 * 1024


@functools.cache
def _settings() -> Settings:
    return Settings.from_env()


def _error_response(status: int, code: str, message: str) -> Response:
    return render.error(render.new_request_id(), ApiError(code, status, message), product=None, xml=False)


async def _too_many_connections(_scope: Any, _receive: Any, send: Any) -> None:
    response = _error_response(503, "ServiceUnavailable", "The server has too many open connections; try again.")
    headers = [*response.asgi_headers(), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def raw_error(status: int, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response in ecsram's JSON error format, closing the connection."""
    response = _error_response(status, code, message)
    head = [STATUS_LINE[status]]
    head.extend(name + b": " + value + b"\r\n" for name, value in response.asgi_headers())
    head.append(b"connection: close\r\n\r\n")
    return b"".join(head) + response.body


async def send_whole(cycle: RequestResponseCycle, response: Response) -> None:
    """Write a complete response, status line, headers and body, with one ``transport.write``.

    What ``RequestResponseCycle.send`` does for an ``http.response.start`` and a final
    ``http.response.body`` message, for a response whose headers ecsram made itself (so they
    need no validation): one write instead of two, and no message dicts. The cycle's state is
    kept as ``send`` keeps it, so keep-alive, pipelining and the connection's flow control go on
    as before."""
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    write_whole(cycle, response)


def write_whole(cycle: RequestResponseCycle, response: Response) -> None:
    """``send_whole`` for a connection whose writing is not paused (nothing to wait for)."""
    if cycle.disconnected:
        return
    if cycle.response_started:
        raise RuntimeError("a response was started already on this request")
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    content = [STATUS_LINE[response.status]]
    closing = False
    for name, value in (*cycle.default_headers, *response.asgi_headers()):
        if name == b"connection" and b"close" in value.lower():
            closing = True
        content.extend((name, b": ", value, b"\r\n"))
    if closing:
        cycle.keep_alive = False
    elif not cycle.keep_alive:
        content.append(b"connection: close\r\n")
    content.append(b"\r\n")
    if cycle.scope["method"] != "HEAD":
        content.append(response.body)
    cycle.transport.write(b"".join(content))
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        cycle.transport.close()
    cycle.on_response()


# Writes that had to wait for a paused connection (rare): held here until done, as the loop
# keeps only weak references to tasks.
_waiting_writes: set[asyncio.Task[None]] = set()


def answer_on(cycle: RequestResponseCycle) -> Callable[[Response], None]:
    """Where a request answered without ASGI sends its response: at once, or once the
    connection's writing resumes."""

    def answer(response: Response) -> None:
        if cycle.flow.write_paused and not cycle.disconnected:
            task = asyncio.get_running_loop().create_task(send_whole(cycle, response))
            _waiting_writes.add(task)
            task.add_done_callback(_waiting_writes.discard)
        else:
            write_whole(cycle, response)

    return answer


def _small_whole_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request's body, if any, is of a declared length small enough to buffer
    before the application sees it, and no ``Expect: 100-continue`` waits for an answer."""
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit() or int(value) > DIRECT_BODY_BYTES:
                return False
        elif name in (b"transfer-encoding", b"expect"):
            return False
    return True


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol, plus: each request must arrive whole within the request timeout;
    request line plus headers may not grow past twice the header limit (beyond the read in which
    they began) before they end (the application checks the exact limit once they are
    complete); and the application's small requests are answered without ASGI (the direct
    path, below)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self._request_timeout = settings.request_timeout
        self._header_cap = 2 * settings.max_header_bytes
        self._max_header_bytes = settings.max_header_bytes
        self._max_connections = settings.max_connections
        self._application = self.app
        direct = getattr(self.app, "answer_directly", None)
        self._answer_directly: Callable[[Any, bytes, Callable[[Response], None]], bool] | None = direct
        # A request for the direct path whose body is still arriving.
        self._awaiting_body: RequestResponseCycle | None = None
        self._state = _IDLE
        self._header_bytes = 0
        self._began_in_this_read = False
        self._deadline: asyncio.TimerHandle | None = None

    # --- the deadline -------------------------------------------------------------------------

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self._request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _may_answer(self) -> bool:
        """Whether an error response can be written now without mixing into another response."""
        if self.pipeline:
            return False
        if self._state == _BODY:
            return self.cycle is not None and not self.cycle.response_started
        return self.cycle is None or self.cycle.response_complete

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self._state != _IDLE and self._may_answer():
            self.transport.write(raw_error(status, code, message))
        self.transport.close()

    def _expired(self) -> None:
        self._deadline = None
        seconds = f"{self._request_timeout:g}"
        self._refuse(408, "RequestTimeout", f"The request did not arrive whole within {seconds} seconds.")

    # --- uvicorn's protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # for the first request, the clock starts when the connection opens

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._awaiting_body = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._began_in_this_read = False
        super().data_received(data)
        if self._state == _IDLE or self.transport.is_closing():
            return
        # A read in which the request began also holds the requests pipelined before it, so it
        # is not counted: the head is counted from the next read on (a bound one read looser).
        if self._state == _HEADERS and not self._began_in_this_read:
            self._header_bytes += len(data)
            if self._header_bytes > self._header_cap:
                self._refuse(
                    431,
                    "RequestHeaderTooLarge",
                    f"The request line and headers exceed the limit of {self._max_header_bytes} bytes.",
                )
                return
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._state = _HEADERS
        self._header_bytes = 0
        self._began_in_this_read = True

    def on_headers_complete(self) -> None:
        self._state = _BODY
        # A fault rule may drop the connection without an answer (see faults/injector.py).
        self.scope["ecsram.drop"] = self.transport.close  # type: ignore[typeddict-unknown-key]
        # uvicorn hands the request to self.app; a connection beyond the limit gets the refusal.
        crowded = len(self.connections) > self._max_connections
        self.app = _too_many_connections if crowded else self._application
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and not crowded:
            # The application may answer with send_whole (one write) instead of two ASGI sends.
            self.scope["ecsram.cycle"] = cycle  # type: ignore[typeddict-unknown-key]

    def on_message_complete(self) -> None:
        self._state = _IDLE
        self._disarm()
        super().on_message_complete()
        waiting = self._awaiting_body
        if waiting is not None and not waiting.more_body:
            self._awaiting_body = None
            self._dispatch(waiting)

    # --- the direct path: API and metadata requests answered without an ASGI task -------------

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """uvicorn starts each request here (at once, or when a pipelined request's turn
        comes). The application's own requests with a small body wait for it whole and then go
        to ``answer_directly``: no task, no ASGI messages. The rest run as ASGI tasks."""
        if (
            self._answer_directly is None
            or app is not self._application
            or not _small_whole_body(cycle.scope["headers"])
        ):
            super()._start_asgi_task(cycle, app)
        elif cycle.more_body:
            self._awaiting_body = cycle
        else:
            self._dispatch(cycle)

    def _dispatch(self, cycle: RequestResponseCycle) -> None:
        assert self._answer_directly is not None
        try:
            taken = self._answer_directly(cycle.scope, bytes(cycle.body), answer_on(cycle))
        except Exception:  # a bug before the request was queued: the ASGI path answers it
            log.exception("the direct path failed on a request; the ASGI path answers it")
            taken = False
        if not taken:
            super()._start_asgi_task(cycle, self._application)  # its body waits in the cycle
