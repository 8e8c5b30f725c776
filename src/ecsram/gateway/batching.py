"""Group commit: the API requests that are ready at the same moment share one transaction.

Requests run one after another on a worker's event loop. Under load several are ready at once;
instead of a BEGIN and a COMMIT each, the first to arrive schedules a flush for the next turn
of the loop, by which time the others that were ready have queued behind it, and the flush
answers them all with ``Gateway.handle_many``. A lone request waits for nothing but that one
turn of the loop.
"""

from __future__ import annotations

import asyncio

from ecsram.contract.call import HttpRequest
from ecsram.gateway.pipeline import Gateway
from ecsram.responses import Response

MAX_BATCH = 32


class GroupCommitter:
    def __init__(self, gateway: Gateway, max_batch: int = MAX_BATCH) -> None:
        self.gateway = gateway
        self.max_batch = max_batch
        self._pending: list[tuple[HttpRequest, asyncio.Future[Response]]] = []
        self._flush_scheduled = False

    async def submit(self, http: HttpRequest) -> Response:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        self._pending.append((http, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        self._flush_scheduled = bool(self._pending)
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        try:
            responses = self.gateway.handle_many([http for http, _future in batch])
        except BaseException as exc:  # handle_many answers every request itself; this is a last resort
            for _http, future in batch:
                if not future.done():
                    future.set_exception(exc)
            raise
        for (_http, future), response in zip(batch, responses, strict=True):
            if not future.cancelled():
                future.set_result(response)
        self.gateway.housekeeping()
