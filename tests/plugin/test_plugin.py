"""The pytest plugin, as a user gets it: inner pytest runs (pytester) of test files that use only
the fixtures, with no conftest, under pytest-xdist, with a server of their own or at ECSRAM_URL."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models

from ecsram.testing import clients
from ecsram.testing.plugin import Account, EcsramClients, EcsramServer
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).parents[2] / "examples" / "test_my_app.py"

# Inner tests: each account is new (the same role name in two tests does not collide), the v1 and
# Tea clients act for it, and an instance's credentials are the role's. RECORD lists what they made.
ISOLATION = """
import json, os
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from alibabacloud_sts20150401.models import AssumeRoleRequest


def _record(ecsram_account, **made):
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps({"account": ecsram_account.__dict__, **made}) + "\\n")


def test_one(ecsram_server, ecsram_account, ecsram_clients):
    assert (ecsram_server.process is None) == bool(os.environ.get("ECSRAM_URL"))
    role = ecsram_clients.ecs_role("SameName", system_policies=["AliyunECSReadOnlyAccess"])
    instance = ecsram_clients.vpc_instance()
    ecsram_clients.attach(role, instance)
    identity = ecsram_clients.instance_clients(instance).sts.get_caller_identity().body
    assert identity.arn == f"acs:ram::{ecsram_account.account_id}:assumed-role/SameName/{instance}"
    assert ecsram_clients.call_v1(DescribeInstancesRequest())["TotalCount"] == 1
    _record(ecsram_account, roles=[role], instances=[instance], policies=[])


def test_two(ecsram_account, ecsram_clients):
    assert ecsram_clients.sts.get_caller_identity().body.account_id == ecsram_account.account_id
    role = ecsram_clients.ecs_role("SameName", policy={"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]})
    instance = ecsram_clients.vpc_instance()
    _record(ecsram_account, roles=[role], instances=[instance], policies=["SameName-policy"])
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Any, list[dict[str, Any]]]:
    record = pytester.path / "record.jsonl"
    monkeypatch.setenv("RECORD", str(record))
    # A sensible setting in test environments; the plugin's instance credentials must work with it.
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    pytester.makepyfile(test_isolation=ISOLATION)
    (pytester.path / "test_my_app.py").write_text(EXAMPLE.read_text())
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "-p", "no:cacheprovider", *args, timeout=240)
    made = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return result, made


def test_fixtures_start_their_own_server_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECSRAM_URL", raising=False)
    result, made = _run(pytester, monkeypatch)
    result.assert_outcomes(passed=3)
    assert "2 workers [3 items]" in result.stdout.str()
    assert len({entry["account"]["account_id"] for entry in made}) == 2


def test_fixtures_use_the_server_at_ecsram_url_and_leave_nothing_behind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: ServerProcess
) -> None:
    monkeypatch.setenv("ECSRAM_URL", server.url)
    result, made = _run(pytester, monkeypatch)
    result.assert_outcomes(passed=3)
    assert len(made) == 2 and len({entry["account"]["account_id"] for entry in made}) == 2
    for entry in made:
        account = entry["account"]
        key = (server.endpoint, account["access_key_id"], account["access_key_secret"])
        ram, ecs = clients.tea_ram(*key), clients.tea_ecs(*key)
        assert entry["roles"] and entry["instances"]  # they did make something ...
        assert ram.list_roles(ram_models.ListRolesRequest()).body.roles.role == []  # ... and it is gone
        custom = ram.list_policies(ram_models.ListPoliciesRequest(policy_type="Custom")).body.policies.policy
        assert custom == []
        described = ecs.describe_instances(ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou"))
        assert described.body.total_count == 0


def test_one_shared_account_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: ServerProcess, sdk: Sdk
) -> None:
    monkeypatch.setenv("ECSRAM_URL", server.url)
    monkeypatch.setenv("ECSRAM_ACCESS_KEY_ID", sdk.key.access_key_id)
    monkeypatch.setenv("ECSRAM_ACCESS_KEY_SECRET", sdk.key.secret)
    pytester.makepyfile(
        f"""
        def test_shared(ecsram_account, ecsram_clients):
            assert ecsram_account.account_id == "{sdk.account_id}"
            assert ecsram_clients.ecs_role().startswith("role-")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=1)
    assert sdk.tea_ram().list_roles(ram_models.ListRolesRequest()).body.roles.role == []


def test_an_unreachable_ecsram_url_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSRAM_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    pytester.makepyfile("def test_needs_it(ecsram_account):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ECSRAM_URL=http://127.0.0.1:9: no healthy ecsram answers*"])


def test_the_suite_shares_its_server_with_the_plugin_fixtures(
    ecsram_server: EcsramServer, server: ServerProcess, ecsram_clients: EcsramClients, ecsram_account: Account
) -> None:
    assert ecsram_server.process is server
    role = ecsram_clients.ecs_role(system_policies=["AliyunECSReadOnlyAccess"])
    request = ram_models.ListPoliciesForRoleRequest(role_name=role)
    attached = ecsram_clients.ram.list_policies_for_role(request).body.policies.policy
    assert [policy.policy_name for policy in attached] == ["AliyunECSReadOnlyAccess"]
    assert ecsram_clients.sts.get_caller_identity().body.account_id == ecsram_account.account_id


def test_accounts_endpoint_answers_post_only(server: ServerProcess) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}/_ecsram/accounts", timeout=10)
    assert refused.value.code == 405
    request = urllib.request.Request(f"{server.url}/_ecsram/accounts", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        created = json.loads(response.read())
    sts = clients.tea_sts(server.endpoint, created["AccessKeyId"], created["AccessKeySecret"])
    assert sts.get_caller_identity().body.account_id == created["AccountId"]


def test_plugin_imports_no_sdk() -> None:
    code = (
        "import sys, ecsram.testing.plugin\n"
        "loaded = [m for m in sys.modules if m.startswith(('alibabacloud', 'aliyunsdk', 'Tea', 'darabonba'))]\n"
        "assert not loaded, loaded\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr


def test_a_missing_sdk_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "alibabacloud_ecs20140526.client", None)
    with pytest.raises(clients.MissingSdk, match=r"'alibabacloud-ecs20140526'.*pip install 'ecsram\[test\]'"):
        clients.tea_ecs("127.0.0.1:1", "id", "secret")
