"""Requests answered together in one transaction (group commit) stay independent: a failing
request undoes only itself, a replayed nonce is caught even inside one batch, every request
gets its own answer."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.ecs import bindings, create_role, run_instances


async def _send_all(endpoint: str, targets: list[str]) -> list[tuple[int, dict[str, object]]]:
    """Send every request on its own connection, all at once, so that they arrive together."""
    host, port = endpoint.rsplit(":", 1)

    async def one(target: str) -> tuple[int, dict[str, object]]:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {endpoint}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
        body = await reader.readexactly(length)
        writer.close()
        return int(head.split()[1]), json.loads(body)

    return list(await asyncio.gather(*(one(target) for target in targets)))


def test_requests_in_one_batch_are_independent(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(workers=1)  # one event loop: concurrent requests share transactions
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    role = f"grp-{uuid.uuid4().hex[:6]}"
    create_role(sdk, role)
    ids = run_instances(sdk, 30)
    client = sdk.raw()

    def attach(role_name: str, instance_id: str, nonce: str | None = None) -> str:
        params = {"RegionId": "cn-hangzhou", "RamRoleName": role_name, "InstanceIds": json.dumps([instance_id])}
        return "/?" + urlencode(client.v1_params("AttachInstanceRamRole", params, nonce=nonce))

    for _round in range(5):
        good = [attach(role, instance_id) for instance_id in ids[:10]]
        bad = [attach("no-such-role", instance_id) for instance_id in ids[10:20]]
        replayed = attach(role, ids[20], nonce=uuid.uuid4().hex)
        targets = [t for pair in zip(good, bad, strict=True) for t in pair] + [replayed, replayed]
        answers = asyncio.run(_send_all(sdk.endpoint, targets))

        statuses = [status for status, _body in answers]
        assert statuses[0:20:2] == [200] * 10
        assert statuses[1:20:2] == [404] * 10
        assert all(body["Code"] == "InvalidRamRole.NotFound" for _s, body in answers[1:20:2])
        assert sorted(status for status, _body in answers[20:]) == [200, 400]
        assert {body.get("Code") for _s, body in answers[20:]} == {None, "SignatureNonceUsed"}
        request_ids = [body["RequestId"] for _s, body in answers]
        assert len(set(request_ids)) == len(request_ids)

        assert bindings(sdk, ids) == {**dict.fromkeys(ids[:10], role), ids[20]: role}
        sdk.raw().v1("DetachInstanceRamRole", {"RegionId": "cn-hangzhou", "InstanceIds": json.dumps(ids)})
