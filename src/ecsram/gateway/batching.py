"""Group commit: the API requests that are ready at the same moment share one transaction.

Requests run one after another on a worker's event loop. Under load several are ready at once;
instead of a BEGIN and a COMMIT each, the first to arrive schedules a flush for the next turn
of the loop, by which time the others that were ready have queued behind it, and the flush
answers them all with ``Gateway.handle_many``. A lone request waits for nothing but that one
turn of the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ecsram.contract import errors
from ecsram.contract.call import HttpRequest
from ecsram.gateway import render
from ecsram.gateway.pipeline import Gateway
from ecsram.responses import Response

MAX_BATCH = 32

log = logging.getLogger("ecsram.gateway")

Answer = Callable[[Response], None]


class GroupCommitter:
    def __init__(self, gateway: Gateway, max_batch: int = MAX_BATCH) -> None:
        self.gateway = gateway
        self.max_batch = max_batch
        self._pending: list[tuple[HttpRequest, asyncio.Future[Response] | Answer]] = []
        self._flush_scheduled = False

    async def submit(self, http: HttpRequest) -> Response:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        self._enqueue(http, future)
        return await future

    def submit_then(self, http: HttpRequest, answer: Answer) -> None:
        """Queue a request whose response goes to ``answer`` (called on the event loop, once):
        what ``submit`` does without a future and a task to await it (see transport.py)."""
        self._enqueue(http, answer)

    def _enqueue(self, http: HttpRequest, waiter: asyncio.Future[Response] | Answer) -> None:
        self._pending.append((http, waiter))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        self._flush_scheduled = bool(self._pending)
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        try:
            responses = self.gateway.handle_many([http for http, _waiter in batch])
        except BaseException as exc:  # handle_many answers every request itself; this is a last resort
            for _http, waiter in batch:
                if isinstance(waiter, asyncio.Future):
                    if not waiter.done():
                        waiter.set_exception(exc)
                else:
                    waiter(render.error(render.new_request_id(), errors.internal_error(), product=None, xml=False))
            raise
        for (_http, waiter), response in zip(batch, responses, strict=True):
            if isinstance(waiter, asyncio.Future):
                if not waiter.cancelled():
                    waiter.set_result(response)
                continue
            try:
                waiter(response)
            except Exception:  # one connection's failure to write must not keep the others waiting
                log.exception("request %s: its answer could not be written", response.request_id)
        self.gateway.housekeeping()
