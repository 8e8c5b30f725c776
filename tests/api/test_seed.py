"""Seed files: the example applies, idempotently, works through the official SDKs, survives
reset; malformed files are refused with their line and field, and change nothing."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException

from ecsram.config import DEFAULT_ACCOUNT_ID, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET
from ecsram.store.accounts import AccessKey
from ecsram.testing.server import ServerFailed, ServerProcess
from tests.conftest import Sdk
from tests.support.admin import admin, ecsram, state
from tests.support.ecs import attach, bindings, detach

EXAMPLE = Path(__file__).parents[2] / "examples" / "seed.yaml"
SECOND_ACCOUNT = "1000000000000002"


def _key_sdk(server: ServerProcess, key_id: str, secret: str, account: str = DEFAULT_ACCOUNT_ID) -> Sdk:
    return Sdk(server.endpoint, AccessKey(key_id, secret, account, None, "Active"), server.database_url)


def _deployer(server: ServerProcess) -> Sdk:
    return _key_sdk(server, "LTAI5tSeedDeployerKey01", "SeedDeployerSecretNotSafe01")


def _auditor(server: ServerProcess) -> Sdk:
    return _key_sdk(server, "LTAI5tSeedAuditorKey001", "SeedAuditorSecretNotSafe001")


def _root(server: ServerProcess) -> Sdk:
    return _key_sdk(server, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET)


def test_the_example_applies_idempotently_with_the_cli(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory()
    first = ecsram("seed", str(EXAMPLE), "--database", server.database_url)
    assert first.returncode == 0, first.stderr
    assert "role created: 2" in first.stdout and "instance created: 4" in first.stdout
    seeded = state(server)
    second = ecsram("seed", str(EXAMPLE), "--database", server.database_url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("nothing to change")
    assert state(server) == seeded
    accounts = {account["accountId"]: account for account in seeded["accounts"]}
    assert set(accounts) == {DEFAULT_ACCOUNT_ID, SECOND_ACCOUNT}
    web = {i["instanceId"]: i for i in accounts[DEFAULT_ACCOUNT_ID]["instances"]}
    assert web["i-seedweb01"]["ramRoleName"] == "app-role" and web["i-seedweb01"]["ramRolePolicy"] is not None
    assert web["i-seedbatch01"]["status"] == "Stopped" and web["i-seedbatch01"]["regionId"] == "cn-shanghai"
    assert accounts[SECOND_ACCOUNT]["rootAccessKeys"] == [{"accessKeyId": "LTAI5tSeedSecondRoot01", "status": "Active"}]


def test_the_seeded_world_works_through_the_official_sdks(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--seed", str(EXAMPLE)))
    assert any("seeded from" in line for line in server.output)
    deployer, auditor = _deployer(server), _auditor(server)
    # The deployer's group policy lets it pass app-role to instances, and take it away.
    result = attach(deployer, "app-role", ["i-seedweb02"])
    assert result["FailCount"] == 0, result
    assert bindings(auditor, ["i-seedweb01", "i-seedweb02"]) == {"i-seedweb01": "app-role", "i-seedweb02": "app-role"}
    detach(deployer, ["i-seedweb02"])
    # The auditor may read, not attach.
    with pytest.raises(ClientException) as refused:
        attach(auditor, "app-role", ["i-seedweb02"])
    assert refused.value.status_code == 403
    # The second account's root key works, and sees its own instance only.
    second = _key_sdk(server, "LTAI5tSeedSecondRoot01", "SeedSecondRootSecretNotSafe", SECOND_ACCOUNT)
    described = second.tea_ecs().describe_instances(ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou"))
    assert [i.instance_id for i in described.body.instances.instance] == ["i-seedother01"]


def test_reset_restores_the_seeded_world(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--seed", str(EXAMPLE)))
    seeded = state(server)
    deployer = _deployer(server)
    detach(deployer, ["i-seedweb01"])
    deployer.raw().v1("DeleteUser", {"UserName": "auditor"}, version="2015-05-01")
    assert state(server) != seeded

    status, body = admin(server, "POST", "/_ecsram/reset")
    assert status == 200, body
    restored = state(server)
    for before, after in zip(seeded["accounts"], restored["accounts"], strict=True):
        for kind in ("roles", "users", "groups", "instances"):
            # IDs are new; names, bindings and attachments are as seeded.
            def names(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
                return [
                    tuple(v for k, v in sorted(i.items()) if not k.endswith("Id") or k == "instanceId") for i in items
                ]

            assert names(after[kind]) == names(before[kind]), kind
    assert bindings(deployer, ["i-seedweb01"]) == {"i-seedweb01": "app-role"}

    # forget_seed: a clean world with only the accounts and their root keys.
    status, body = admin(server, "POST", "/_ecsram/reset?forget_seed=true")
    assert status == 200, body
    assert deployer.raw().v1("DescribeRegions", {}).code == "InvalidAccessKeyId.NotFound"
    assert _root(server).raw().v1("DescribeRegions", {}).status == 200
    status, body = admin(server, "POST", "/_ecsram/reset")
    assert all(account["instances"] == [] for account in state(server)["accounts"])


def test_changed_declarations_are_brought_in_line(server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    server = server_factory()
    seed = tmp_path / "world.yaml"
    document: dict[str, Any] = {
        "accounts": [
            {
                "id": DEFAULT_ACCOUNT_ID,
                "policies": [{"name": "Reader", "document": _allow("ecs:DescribeInstances")}],
                "roles": [{"name": "app", "description": "v1", "policies": ["Reader"]}],
                "instances": [
                    {"id": "i-conv1", "region": "cn-hangzhou", "role": "app", "role_policy": _allow("ecs:*")}
                ],
            }
        ]
    }
    seed.write_text(json.dumps(document))  # JSON is a seed format too
    assert ecsram("seed", str(seed), "--database", server.database_url).returncode == 0
    account = document["accounts"][0]
    account["policies"][0]["document"] = _allow("ecs:DescribeRegions")
    account["roles"][0]["description"] = "v2"
    del account["instances"][0]["role_policy"]
    account["instances"][0]["status"] = "Stopped"
    seed.write_text(json.dumps(document))
    changed = ecsram("seed", str(seed), "--database", server.database_url)
    assert changed.returncode == 0, changed.stderr
    for what in ("policy document changed: 1", "role changed: 1", "instance role attached: 1", "instance status"):
        assert what in changed.stdout, changed.stdout
    (current,) = state(server, DEFAULT_ACCOUNT_ID)["accounts"]
    assert current["policies"][0]["defaultVersion"] == "v2"
    assert current["policies"][0]["document"]["Statement"][0]["Action"] == "ecs:DescribeRegions"
    assert current["roles"][0]["description"] == "v2" and current["roles"][0]["policies"] == ["Custom:Reader"]
    assert current["instances"][0]["ramRolePolicy"] is None and current["instances"][0]["status"] == "Stopped"
    again = ecsram("seed", str(seed), "--database", server.database_url)
    assert again.stdout.strip().endswith("nothing to change"), again.stdout


def _allow(action: str) -> dict[str, Any]:
    return {"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}


MALFORMED = [
    (
        """
        accounts:
          - id: "1000000000000001"
            roles:
              - name: fine-role
              - name: "bad role!"
        """,
        "5: accounts[0].roles[1].name: CreateRole refused it: InvalidParameter.RoleName.InvalidChars",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            users:
              - name: u1
                passwrd: x
        """,
        "5: accounts[0].users[0].passwrd: unknown field 'passwrd'",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            roles: [{name: fine-role}]
            instances:
              - id: i-seedbad1
                region: cn-hangzhou
                role: no-such-role
        """,
        "7: accounts[0].instances[0].role: AttachInstanceRamRole refused it: InvalidRamRole.NotFound",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            instances:
              - id: i-seedbad2
                region: mars-north-1
        """,
        "5: accounts[0].instances[0].region: RunInstances refused it",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            instances:
              - {id: "web 1", region: cn-hangzhou}
        """,
        "4: accounts[0].instances[0].id: 'web 1' is not an instance ID",
    ),
    (
        """
        accounts:
          - id: "1000000000000009"
            roles: [{name: fine-role}]
        """,
        "2: accounts[0].id: a new account needs root_keys",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            root_keys:
              - id: LTAI5tEcsramDefaultRoot1
                secret: SomeOtherSecretSomeOther
        """,
        "5: accounts[0].root_keys[0].secret: AccessKeyId LTAI5tEcsramDefaultRoot1 exists with another secret",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            policies:
              - name: Broken
                document: {Version: "1", Statement: [{Effect: Perhaps, Action: "*", Resource: "*"}]}
        """,
        "5: accounts[0].policies[0].document: CreatePolicy refused it",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            users:
              - name: u1
                groups: [nobody]
        """,
        "5: accounts[0].users[0].groups[0]: no group 'nobody'",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            roles:
              - name: r1
                max_session_duration: an hour
        """,
        "5: accounts[0].roles[0].max_session_duration: expected a number of seconds",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
          - id: 42
        """,
        "3: accounts[1].id: '42' is not an account ID",
    ),
    (
        """
        accounts:
          - id: "1000000000000001"
            roles:
              - name: "r\\0x"
        """,
        "4: accounts[0].roles[0].name: text may not hold a control character",
    ),
    ("accounts: [\n  {id: 1\n", "not valid YAML or JSON"),
    ("", "the file is empty"),
    ("- just\n- a list\n", "1: (top level): expected a mapping with accounts"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED, ids=[m[1][:40] for m in MALFORMED])
def test_malformed_seeds_name_line_and_field_and_change_nothing(
    server: ServerProcess, tmp_path: Path, text: str, expected: str
) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(textwrap.dedent(text).lstrip("\n"))
    before = state(server)
    result = ecsram("seed", str(seed), "--database", server.database_url)
    assert result.returncode == 1
    assert "seed not applied:" in result.stderr and str(seed) in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr
    assert state(server) == before


def test_serve_refuses_to_start_with_a_bad_seed(database_factory: Callable[[], str], tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text('accounts:\n  - id: "1000000000000001"\n    roles: [{name: "no good"}]\n')
    with pytest.raises(ServerFailed) as failed:
        ServerProcess(database_factory(), extra_args=("--seed", str(seed))).start()
    assert f"seed not applied: {seed}:3: accounts[0].roles[0].name" in str(failed.value)


def test_a_missing_seed_file_is_a_clear_error(server: ServerProcess, tmp_path: Path) -> None:
    result = ecsram("seed", str(tmp_path / "absent.yaml"), "--database", server.database_url)
    assert result.returncode == 1 and "cannot read the seed file" in result.stderr, result.stderr


def test_a_seeded_instance_gets_its_role_narrowed_by_the_attach_policy(
    server_factory: Callable[..., ServerProcess],
) -> None:
    from tests.support.metadata import CREDENTIALS, Metadata

    server = server_factory(extra_args=("--seed", str(EXAMPLE)))
    on_instance = Metadata(server.endpoint, "i-seedweb01")
    assert on_instance.get(CREDENTIALS).text == "app-role"
    issued = json.loads(on_instance.get(CREDENTIALS + "app-role").body)
    session = _root(server).with_credentials(issued["AccessKeyId"], issued["AccessKeySecret"], issued["SecurityToken"])
    # The role allows ECS reads; the seeded attach Policy narrows the session to DescribeInstances.
    described = session.raw().v1("DescribeInstances", {"RegionId": "cn-hangzhou"})
    assert described.status == 200, described.body
    refused = session.raw().v1("DescribeInstanceRamRole", {"RegionId": "cn-hangzhou", "RamRoleName": "app-role"})
    assert refused.status == 403, refused.body
    # An instance without a role gets no credentials.
    assert Metadata(server.endpoint, "i-seedweb02").get(CREDENTIALS + "app-role").status == 404
