"""Group commit: the API requests that are ready at the same moment share one transaction.

Instead of a BEGIN and a COMMIT each, the requests ready in the same turn of the event loop are
answered by one ``Gateway.handle_many`` (``batcher.Batcher``), and the gateway keeps house
(nonce pruning, the trail's summaries) after each batch.
"""

from __future__ import annotations

from ecsram.batcher import MAX_BATCH, Batcher
from ecsram.contract import errors
from ecsram.contract.call import HttpRequest
from ecsram.gateway import render
from ecsram.gateway.pipeline import Gateway
from ecsram.responses import Response


def _internal_error() -> Response:
    return render.error(render.new_request_id(), errors.internal_error(), product=None, xml=False)


class GroupCommitter(Batcher[HttpRequest]):
    def __init__(self, gateway: Gateway, max_batch: int = MAX_BATCH) -> None:
        super().__init__(gateway.handle_many, failed=_internal_error, after=gateway.housekeeping, max_batch=max_batch)
        self.gateway = gateway
