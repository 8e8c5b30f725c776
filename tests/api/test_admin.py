"""Reset and state: the admin endpoints, the signed operations, and the command line."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ecsram.app import EcsramApp
from ecsram.config import DEFAULT_ACCOUNT_ID, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET, Settings
from ecsram.store.accounts import AccessKey
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.admin import admin, ecsram, state
from tests.support.ecs import allow, attach, create_policy, create_role, run_instances
from tests.support.raw import RAM, RawClient

ECSRAM = "2026-11-01"


def _role_exists(sdk: Sdk, name: str) -> bool:
    response = sdk.raw().v1("GetRole", {"RoleName": name}, version=RAM)
    assert response.status in (200, 404), response.body
    return response.status == 200


def _populate(sdk: Sdk) -> dict[str, Any]:
    """A role with a policy, a user with a key in a group, a bound instance; returns their names."""
    role = f"role-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    policy = f"Pol-{uuid.uuid4().hex[:8]}"
    create_policy(sdk, policy, allow("ecs:DescribeInstances"))
    sdk.raw().v1("AttachPolicyToRole", {"PolicyType": "Custom", "PolicyName": policy, "RoleName": role}, version=RAM)
    group = f"grp-{uuid.uuid4().hex[:8]}"
    assert sdk.raw().v1("CreateGroup", {"GroupName": group}, version=RAM).status == 200
    user = sdk.new_user("AliyunECSReadOnlyAccess")
    assert user.user_name is not None
    sdk.raw().v1("AddUserToGroup", {"GroupName": group, "UserName": user.user_name}, version=RAM)
    (instance,) = run_instances(sdk)
    attach(sdk, role, [instance], policy=allow("ecs:DescribeInstances"))
    return {"role": role, "policy": policy, "group": group, "user": user, "instance": instance}


def test_state_shows_an_account_without_secrets(server: ServerProcess, sdk: Sdk) -> None:
    made = _populate(sdk)
    document = state(server, sdk.account_id)
    (account,) = document["accounts"]
    assert account["accountId"] == sdk.account_id
    assert account["rootAccessKeys"] == [{"accessKeyId": sdk.key.access_key_id, "status": "Active"}]
    (role,) = account["roles"]
    assert role["roleName"] == made["role"] and role["policies"] == [f"Custom:{made['policy']}"]
    assert role["trustPolicy"]["Statement"][0]["Principal"] == {"Service": ["ecs.aliyuncs.com"]}
    (user,) = account["users"]
    user_sdk: Sdk = made["user"]
    assert user["userName"] == user_sdk.user_name and user["groups"] == [made["group"]]
    assert user["accessKeys"] == [{"accessKeyId": user_sdk.key.access_key_id, "status": "Active"}]
    assert user["policies"] == ["System:AliyunECSReadOnlyAccess"]
    assert account["groups"][0]["members"] == [user_sdk.user_name]
    assert account["policies"][0]["document"]["Statement"][0]["Action"] == "ecs:DescribeInstances"
    (instance,) = account["instances"]
    assert instance["instanceId"] == made["instance"] and instance["ramRoleName"] == made["role"]
    assert instance["ramRolePolicy"]["Statement"][0]["Action"] == "ecs:DescribeInstances"
    text = json.dumps(document)
    assert sdk.key.secret not in text and user_sdk.key.secret not in text


def test_state_of_every_account_includes_each(server: ServerProcess, sdk: Sdk) -> None:
    other = sdk.other_account()
    listed = {account["accountId"] for account in state(server)["accounts"]}
    assert {sdk.account_id, other.account_id} <= listed


def test_reset_of_one_account_leaves_the_others(server: ServerProcess, sdk: Sdk) -> None:
    made = _populate(sdk)
    other = sdk.other_account()
    other_made = _populate(other)
    status, body = admin(server, "POST", f"/_ecsram/reset?account={sdk.account_id}")
    assert status == 200 and body["accounts"] == [sdk.account_id], body
    (account,) = state(server, sdk.account_id)["accounts"]
    assert [account[kind] for kind in ("users", "groups", "policies", "roles", "instances")] == [[]] * 5
    # The root key survives and still signs; the user's key is gone with the user.
    assert not _role_exists(sdk, made["role"])
    user_sdk: Sdk = made["user"]
    gone = user_sdk.raw().v1("DescribeRegions", {})
    assert gone.code == "InvalidAccessKeyId.NotFound", gone.body
    assert _role_exists(other, other_made["role"])
    assert len(state(server, other.account_id)["accounts"][0]["instances"]) == 1


def test_reset_of_everything_keeps_accounts_and_root_keys(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory()
    root = Sdk(
        server.endpoint,
        AccessKey(DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET, DEFAULT_ACCOUNT_ID, None, "Active"),
        server.database_url,
    )
    other = root.other_account()
    made, other_made = _populate(root), _populate(other)
    status, body = admin(server, "POST", "/_ecsram/reset")
    assert status == 200 and set(body["accounts"]) == {DEFAULT_ACCOUNT_ID, other.account_id}, body
    assert not _role_exists(root, made["role"]) and not _role_exists(other, other_made["role"])
    for account in state(server)["accounts"]:
        assert account["roles"] == [] and account["instances"] == [] and account["users"] == []
        assert len(account["rootAccessKeys"]) == 1
    # The world works as new: names can be used again.
    create_role(root, made["role"])
    assert _role_exists(root, made["role"])


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/_ecsram/reset?account=1999999999999999", 404, "EntityNotExist.Account"),
        ("POST", "/_ecsram/reset?account=12", 400, "InvalidParameter.Account"),
        ("POST", "/_ecsram/reset?acount=1000000000000001", 400, "InvalidParameter"),
        ("POST", "/_ecsram/reset?forget_seed=maybe", 400, "InvalidParameter.ForgetSeed"),
        ("GET", "/_ecsram/reset", 405, "MethodNotAllowed"),
        ("PUT", "/_ecsram/reset", 405, "MethodNotAllowed"),
        ("POST", "/_ecsram/state", 405, "MethodNotAllowed"),
        ("GET", "/_ecsram/state?account=1999999999999999", 404, "EntityNotExist.Account"),
    ],
)
def test_bad_admin_requests_change_nothing(
    server: ServerProcess, sdk: Sdk, method: str, path: str, status: int, code: str
) -> None:
    _populate(sdk)
    before = state(server, sdk.account_id)
    got, body = admin(server, method, path)
    assert (got, body["code"]) == (status, code), body
    assert body["message"]
    assert state(server, sdk.account_id) == before


def test_beyond_loopback_the_endpoints_refuse_and_change_nothing(database_factory: Callable[[], str]) -> None:
    """A peer beyond loopback cannot be made on this machine, so the app is driven in-process
    with the peer address an ASGI server would report."""
    app = EcsramApp(Settings(database_url=database_factory()))

    async def scenario() -> list[httpx.Response]:
        far = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
        near = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with (
            httpx.AsyncClient(transport=far, base_url="http://ecsram") as remote,
            httpx.AsyncClient(transport=near, base_url="http://ecsram") as local,
        ):
            return [
                await remote.post("/_ecsram/reset"),
                await remote.get("/_ecsram/state"),
                await local.get("/_ecsram/state"),
            ]

    from ecsram.bootstrap import prepare_store
    from ecsram.store.database import Database

    database = Database(app.settings.database_url)
    prepare_store(database)
    database.close()
    app.start()  # what the server's lifespan start-up does (httpx's transport sends no lifespan)
    try:
        reset, remote_state, local_state = asyncio.run(scenario())
    finally:
        app.stop()
    for refused in (reset, remote_state):
        assert refused.status_code == 403
        assert refused.json()["code"] == "Forbidden.NotLoopback"
        assert "ResetAccount" in refused.json()["message"]
        assert "accounts" not in refused.json()
    assert local_state.status_code == 200 and local_state.json()["accounts"][0]["accountId"] == DEFAULT_ACCOUNT_ID


def test_signed_reset_and_state_with_the_root_key(server: ServerProcess, sdk: Sdk) -> None:
    made = _populate(sdk)
    other = sdk.other_account()
    other_made = _populate(other)
    described = sdk.raw().v1("DescribeAccountState", {}, version=ECSRAM)
    assert described.status == 200, described.body
    assert described.json["State"]["roles"][0]["roleName"] == made["role"]
    assert described.json["State"]["accountId"] == sdk.account_id
    reset = sdk.raw().v3("ResetAccount", {}, version=ECSRAM)
    assert reset.status == 200 and reset.json["AccountId"] == sdk.account_id, reset.body
    assert not _role_exists(sdk, made["role"])
    assert _role_exists(other, other_made["role"])


@pytest.mark.parametrize("action", ["ResetAccount", "DescribeAccountState"])
def test_signed_operations_need_the_root_key(sdk: Sdk, action: str) -> None:
    made = _populate(sdk)
    admin_user = sdk.new_user("AdministratorAccess")
    refused = admin_user.raw().v1(action, {}, version=ECSRAM)
    assert (refused.status, refused.code) == (403, "Forbidden.RootAccessKeyRequired"), refused.body
    unsigned = RawClient(sdk.endpoint, sdk.key.access_key_id, "WrongSecretWrongSecret00").v1(action, {}, version=ECSRAM)
    assert unsigned.code == "SignatureDoesNotMatch", unsigned.body
    assert _role_exists(sdk, made["role"])


def test_cli_reset_and_state_on_a_running_servers_store(server: ServerProcess, sdk: Sdk) -> None:
    made = _populate(sdk)
    shown = ecsram("state", "--account", sdk.account_id, "--format", "json", "--database", server.database_url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["accounts"][0]["roles"][0]["roleName"] == made["role"]
    table = ecsram("state", "--account", sdk.account_id, "--database", server.database_url)
    assert table.returncode == 0 and made["role"] in table.stdout and made["instance"] in table.stdout
    assert sdk.key.secret not in table.stdout + shown.stdout

    done = ecsram("reset", "--account", sdk.account_id, "--database", server.database_url)
    assert done.returncode == 0, done.stderr
    assert f"reset 1 account(s): {sdk.account_id}" in done.stdout
    # The running server sees the change at once: it keeps no state outside the store.
    assert not _role_exists(sdk, made["role"])
    assert sdk.raw().v1("DescribeRegions", {}).status == 200


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["reset", "--account", "1999999999999999"], "no account 1999999999999999"),
        (["reset", "--account", "abc"], "is not an account ID"),
        (["state", "--account", "1999999999999999"], "no account 1999999999999999"),
        (["state", "--format", "yaml"], "'yaml' is not one of"),
    ],
)
def test_cli_bad_input_is_a_clear_error(server: ServerProcess, sdk: Sdk, args: list[str], fragment: str) -> None:
    made = _populate(sdk)
    result = ecsram(*args, "--database", server.database_url)
    assert result.returncode != 0 and fragment in result.stderr, result.stderr
    assert _role_exists(sdk, made["role"])


def test_reset_of_everything_sets_the_test_clock_back(server_factory: Callable[..., ServerProcess]) -> None:
    from ecsram.store import settings as stored_settings
    from ecsram.store.database import Database

    server = server_factory(test_clock=True)
    server.advance_clock(3600)

    def offset() -> str | None:
        database = Database(server.database_url)
        try:
            with database.transaction(write=False) as tx:
                return stored_settings.get(tx, stored_settings.CLOCK_OFFSET)
        finally:
            database.close()

    assert offset() is not None and float(offset() or 0) == 3600
    admin(server, "POST", f"/_ecsram/reset?account={DEFAULT_ACCOUNT_ID}")
    assert float(offset() or 0) == 3600  # one account's reset leaves the shared clock alone
    status, _body = admin(server, "POST", "/_ecsram/reset")
    assert status == 200 and offset() is None


def test_cli_works_on_a_store_without_a_server(database_factory: Callable[[], str]) -> None:
    from pathlib import Path

    url = database_factory()
    example = Path(__file__).parents[2] / "examples" / "seed.yaml"
    assert ecsram("seed", str(example), "--database", url).returncode == 0
    seeded = json.loads(ecsram("state", "--format", "json", "--database", url).stdout)
    assert sum(len(account["roles"]) for account in seeded["accounts"]) == 2
    emptied = ecsram("reset", "--forget-seed", "--database", url)
    assert emptied.returncode == 0, emptied.stderr
    assert "restored from seeds: nothing" in emptied.stdout
    after = json.loads(ecsram("state", "--format", "json", "--database", url).stdout)
    assert [a["accountId"] for a in after["accounts"]] == [a["accountId"] for a in seeded["accounts"]]
    assert all(not a["roles"] and not a["users"] and not a["instances"] for a in after["accounts"])
