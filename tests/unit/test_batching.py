"""Group commit: requests ready in the same loop turn share one ``Gateway.handle_many`` call.

Written against the public behaviour only (``GroupCommitter(gateway, max_batch=...)`` and
``await submit(http)``), with a fake gateway that records each ``handle_many`` call, so the
tests hold whether the flush calls the gateway on the loop or on a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import orjson
import pytest

from ecsram.contract.call import HttpRequest
from ecsram.gateway.batching import GroupCommitter
from ecsram.responses import TEXT_CONTENT_TYPE, Response


def _request(n: int) -> HttpRequest:
    return HttpRequest("GET", f"n={n}".encode(), [], {}, b"", "127.0.0.1", False)


class FakeGateway:
    """Answers each request with its own query string; records every batch it is given, and
    fails a whole batch that holds one of the ``poison`` requests."""

    def __init__(self, poison: Sequence[int] = ()) -> None:
        self.calls: list[list[bytes]] = []
        self.housekeeping_calls = 0
        self._poison = {f"n={n}".encode() for n in poison}
        self._lock = threading.Lock()  # in case the committer calls from a worker thread

    def handle_many(self, requests: Sequence[HttpRequest]) -> list[Response]:
        queries = [http.query_string for http in requests]
        with self._lock:
            self.calls.append(queries)
        if self._poison.intersection(queries):
            raise RuntimeError("the batch failed")
        return [Response(200, b"answer:" + http.query_string, TEXT_CONTENT_TYPE) for http in requests]

    def housekeeping(self) -> None:
        with self._lock:
            self.housekeeping_calls += 1


def _committer(gateway: FakeGateway, max_batch: int | None = None) -> GroupCommitter:
    if max_batch is None:
        return GroupCommitter(gateway)  # type: ignore[arg-type]
    return GroupCommitter(gateway, max_batch=max_batch)  # type: ignore[arg-type]


async def _submit_together(committer: GroupCommitter, numbers: Sequence[int]) -> list[Response]:
    return list(await asyncio.gather(*(committer.submit(_request(n)) for n in numbers)))


def test_requests_ready_together_share_one_handle_many_call_in_order() -> None:
    """The point of group commit: N requests started in the same loop turn reach the gateway as
    ONE ``handle_many`` call. With batching off (``MAX_BATCH = 1``) this test fails: the gateway
    then sees N calls of one request each."""
    gateway = FakeGateway()
    committer = _committer(gateway)

    responses = asyncio.run(_submit_together(committer, range(5)))

    assert gateway.calls == [[b"n=0", b"n=1", b"n=2", b"n=3", b"n=4"]]
    assert [r.body for r in responses] == [f"answer:n={n}".encode() for n in range(5)]


def test_each_caller_gets_its_own_response() -> None:
    gateway = FakeGateway()
    committer = _committer(gateway)

    responses = asyncio.run(_submit_together(committer, [7, 3, 9, 1]))

    assert [r.body for r in responses] == [b"answer:n=7", b"answer:n=3", b"answer:n=9", b"answer:n=1"]
    assert len(gateway.calls) == 1


def test_more_than_max_batch_pending_are_split_into_batches_of_at_most_max_batch() -> None:
    gateway = FakeGateway()
    committer = _committer(gateway, max_batch=3)

    responses = asyncio.run(_submit_together(committer, range(8)))

    # Batches are consecutive runs of the submission order (the order in which the gateway is
    # called is left open, in case batches are ever answered on several threads).
    assert sorted(gateway.calls) == [[b"n=0", b"n=1", b"n=2"], [b"n=3", b"n=4", b"n=5"], [b"n=6", b"n=7"]]
    assert [r.body for r in responses] == [f"answer:n={n}".encode() for n in range(8)]


def test_a_lone_request_is_its_own_batch() -> None:
    gateway = FakeGateway()
    committer = _committer(gateway)

    response = asyncio.run(committer.submit(_request(42)))

    assert response.body == b"answer:n=42"
    assert gateway.calls == [[b"n=42"]]


def test_requests_in_different_loop_turns_are_not_held_back_for_each_other() -> None:
    async def one_after_another() -> list[Response]:
        committer = _committer(gateway)
        first = await committer.submit(_request(1))
        second = await committer.submit(_request(2))
        return [first, second]

    gateway = FakeGateway()
    responses = asyncio.run(one_after_another())

    assert gateway.calls == [[b"n=1"], [b"n=2"]]
    assert [r.body for r in responses] == [b"answer:n=1", b"answer:n=2"]


def test_a_cancelled_waiter_does_not_break_the_others() -> None:
    async def scenario() -> tuple[list[Response], asyncio.Task[Response]]:
        committer = _committer(gateway)
        tasks = [asyncio.create_task(committer.submit(_request(n))) for n in range(3)]
        await asyncio.sleep(0)  # every task is now waiting for its answer
        tasks[1].cancel()
        answered = await asyncio.gather(tasks[0], tasks[2])
        with pytest.raises(asyncio.CancelledError):
            await tasks[1]
        # The committer keeps working after a cancellation.
        later = await committer.submit(_request(9))
        return [*answered, later], tasks[1]

    gateway = FakeGateway()
    responses, cancelled = asyncio.run(scenario())

    assert cancelled.cancelled()
    assert [r.body for r in responses] == [b"answer:n=0", b"answer:n=2", b"answer:n=9"]


def test_an_exception_in_handle_many_reaches_every_waiter_of_that_batch_and_later_batches_work() -> None:
    async def scenario() -> tuple[list[object], Response]:
        committer = _committer(gateway)
        outcomes = await asyncio.gather(*(committer.submit(_request(n)) for n in range(3)), return_exceptions=True)
        later = await committer.submit(_request(5))
        return list(outcomes), later

    gateway = FakeGateway(poison=[1])
    outcomes, later = asyncio.run(scenario())

    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome, RuntimeError)
        assert str(outcome) == "the batch failed"
    assert later.body == b"answer:n=5"
    assert gateway.calls == [[b"n=0", b"n=1", b"n=2"], [b"n=5"]]


def test_a_failed_batch_does_not_stop_the_next_batch_already_queued() -> None:
    async def scenario() -> list[object]:
        committer = _committer(gateway, max_batch=2)
        return list(await asyncio.gather(*(committer.submit(_request(n)) for n in range(4)), return_exceptions=True))

    gateway = FakeGateway(poison=[0])
    outcomes = asyncio.run(scenario())

    assert [type(o) for o in outcomes[:2]] == [RuntimeError, RuntimeError]
    assert [o.body for o in outcomes[2:]] == [b"answer:n=2", b"answer:n=3"]  # type: ignore[union-attr]
    assert sorted(gateway.calls) == [[b"n=0", b"n=1"], [b"n=2", b"n=3"]]


def test_requests_submitted_with_a_callback_share_the_batch_with_awaited_ones_in_order() -> None:
    """``submit_then`` (the direct path of transport.py) queues like ``submit``: the same
    batch, the same order, each answer to its own callback, once."""

    async def scenario() -> tuple[list[Response], Response]:
        committer = _committer(gateway)
        answered: list[Response] = []
        awaited = asyncio.create_task(committer.submit(_request(1)))
        await asyncio.sleep(0)  # the task has queued its request; the flush waits for the next turn
        committer.submit_then(_request(0), answered.append)
        committer.submit_then(_request(2), answered.append)
        return answered, await awaited

    gateway = FakeGateway()
    answered, awaited = asyncio.run(scenario())

    assert gateway.calls == [[b"n=1", b"n=0", b"n=2"]]
    assert [r.body for r in answered] == [b"answer:n=0", b"answer:n=2"]
    assert awaited.body == b"answer:n=1"


def test_a_failed_batch_answers_its_callbacks_with_internal_error_and_a_failing_callback_spares_the_others() -> None:
    async def scenario() -> list[Response]:
        committer = _committer(gateway, max_batch=2)
        answered: list[Response] = []

        def broken(_response: Response) -> None:
            raise OSError("the connection is gone")

        committer.submit_then(_request(0), answered.append)
        committer.submit_then(_request(1), answered.append)  # poison: the first batch fails
        committer.submit_then(_request(2), broken)
        committer.submit_then(_request(3), answered.append)
        for _turn in range(3):
            await asyncio.sleep(0)
        return answered

    gateway = FakeGateway(poison=[1])
    loop = asyncio.new_event_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        answered = loop.run_until_complete(scenario())
    finally:
        loop.close()

    assert [(r.status, orjson.loads(r.body)["Code"]) for r in answered[:2]] == [(500, "InternalError")] * 2
    assert answered[2].body == b"answer:n=3"
    assert len(reported) == 1 and str(reported[0]["exception"]) == "the batch failed"
