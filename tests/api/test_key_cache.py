"""Each worker caches the AccessKeys it has verified (gateway/credentials.py); a change to a key
or its user made through any worker must stop the key in every worker at once. Checked on a
two-worker server with the official v1 SDK, telling the workers apart by the per-process prefix
of their request IDs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from alibabacloud_ram20150501 import models as ram_models
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.request import CommonRequest
from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest

from ecsram.testing import clients
from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk

ATTEMPTS = 400  # new connections tried until both workers have answered


def _worker(request_id: str) -> str:
    return request_id.rsplit("-", 1)[0]  # the per-process part of a request ID


def _describe(sdk: Sdk) -> tuple[str, str | None]:
    """DescribeRegions on a new client (a new connection): the answering worker, and the error code."""
    client = clients.v1_client(sdk.key.access_key_id, sdk.key.secret)
    try:
        body = json.loads(client.do_action_with_exception(clients.prepare_v1(DescribeRegionsRequest(), sdk.endpoint)))
    except ServerException as exc:
        return _worker(exc.get_request_id()), exc.get_error_code()
    return _worker(body["RequestId"]), None


def _answers_of_both_workers(sdk: Sdk) -> dict[str, set[str | None]]:
    """Call until two workers have answered (at least twice each); the codes each worker gave."""
    seen: dict[str, list[str | None]] = {}
    for _ in range(ATTEMPTS):
        worker, code = _describe(sdk)
        seen.setdefault(worker, []).append(code)
        if len(seen) == 2 and all(len(codes) >= 2 for codes in seen.values()):
            return {worker: set(codes) for worker, codes in seen.items()}
    pytest.fail(f"the calls did not reach both workers: {seen}")


@pytest.fixture
def two_workers(server_factory: Callable[..., ServerProcess]) -> Sdk:
    server = server_factory(workers=2)
    return Sdk(server.endpoint, create_account(server.database_url), server.database_url)


def test_a_disabled_enabled_and_deleted_key_is_seen_at_once_by_every_worker(two_workers: Sdk) -> None:
    root = two_workers
    user = root.new_user("AliyunECSReadOnlyAccess")
    ram = root.tea_ram()
    answers = _answers_of_both_workers(user)  # both workers now hold the key in their caches
    assert answers == {worker: {None} for worker in answers}

    ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name=user.user_name, user_access_key_id=user.key.access_key_id, status="Inactive"
        )
    )
    answers = _answers_of_both_workers(user)
    assert answers == {worker: {"InvalidAccessKeyId.Inactive"} for worker in answers}

    ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name=user.user_name, user_access_key_id=user.key.access_key_id, status="Active"
        )
    )
    answers = _answers_of_both_workers(user)
    assert answers == {worker: {None} for worker in answers}

    ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(user_name=user.user_name, user_access_key_id=user.key.access_key_id)
    )
    answers = _answers_of_both_workers(user)
    assert answers == {worker: {"InvalidAccessKeyId.NotFound"} for worker in answers}


def test_a_renamed_user_is_named_anew_by_every_worker(two_workers: Sdk) -> None:
    """The cached principal carries the user's name (policies, the trail and GetCallerIdentity
    name it): after a rename every worker must use the new name."""
    root = two_workers
    user = root.new_user("AliyunECSReadOnlyAccess")
    answers = _answers_of_both_workers(user)  # both workers now hold the key in their caches
    assert answers == {worker: {None} for worker in answers}
    root.tea_ram().update_user(ram_models.UpdateUserRequest(user_name=user.user_name, new_user_name="renamed-user"))
    arns: dict[str, set[str]] = {}
    for _ in range(ATTEMPTS):
        request = CommonRequest(domain="sts.aliyuncs.com", version="2015-04-01", action_name="GetCallerIdentity")
        client = clients.v1_client(user.key.access_key_id, user.key.secret)
        identity = json.loads(client.do_action_with_exception(clients.prepare_v1(request, user.endpoint)))
        arns.setdefault(_worker(identity["RequestId"]), set()).add(identity["Arn"])
        if len(arns) == 2:
            break
    assert arns == {worker: {f"acs:ram::{root.account_id}:user/renamed-user"} for worker in arns}
    assert len(arns) == 2
