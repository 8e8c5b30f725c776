"""Requests that are ready at the same moment, answered together in one call.

Requests run one after another on a worker's event loop. Under load several are ready at once;
the first to arrive schedules a flush for the next turn of the loop, by which time the others
that were ready have queued behind it, and the flush answers them all with one ``handle_many``
call (for the API and the metadata service: one database transaction, see
``gateway/batching.py`` and ``imds/service.py``). A lone request waits for nothing but that one
turn of the loop.

A request is queued with ``submit`` (awaited by an ASGI task) or ``submit_then`` (its answer
goes to a callback: the direct path of ``transport.py``, with no task to await it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from ecsram.responses import Response

MAX_BATCH = 32

log = logging.getLogger("ecsram")

T = TypeVar("T")
Answer = Callable[[Response], None]


class Batcher(Generic[T]):
    def __init__(
        self,
        handle_many: Callable[[Sequence[T]], list[Response]],
        *,
        failed: Callable[[], Response],
        after: Callable[[], None] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """``handle_many`` answers a batch, each request in its place; ``failed`` is the answer
        of a callback's request whose batch raised instead; ``after`` runs after each batch."""
        self._handle_many = handle_many
        self._failed = failed
        self._after = after
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[Response] | Answer]] = []
        self._flush_scheduled = False

    async def submit(self, item: T) -> Response:
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._enqueue(item, future)
        return await future

    def submit_then(self, item: T, answer: Answer) -> None:
        """Queue a request whose response goes to ``answer`` (called on the event loop, once)."""
        self._enqueue(item, answer)

    def _enqueue(self, item: T, waiter: asyncio.Future[Response] | Answer) -> None:
        self._pending.append((item, waiter))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        self._flush_scheduled = bool(self._pending)
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        try:
            responses = self._handle_many([item for item, _waiter in batch])
        except BaseException as exc:  # handle_many answers every request itself; this is a last resort
            for _item, waiter in batch:
                if isinstance(waiter, asyncio.Future):
                    if not waiter.done():
                        waiter.set_exception(exc)
                else:
                    waiter(self._failed())
            raise
        for (_item, waiter), response in zip(batch, responses, strict=True):
            if isinstance(waiter, asyncio.Future):
                if not waiter.cancelled():
                    waiter.set_result(response)
                continue
            try:
                waiter(response)
            except Exception:  # one connection's failure to write must not keep the others waiting
                log.exception("request %s: its answer could not be written", response.request_id)
        if self._after is not None:
            self._after()
