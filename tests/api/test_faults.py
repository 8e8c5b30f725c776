"""Fault injection and emulated throttling, through the official SDKs and their own retries.

Rules on the shared server name the test's own account, so that other tests never meet them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.policy.retry import RetryOptions
from darabonba.runtime import RuntimeOptions

from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.ecs import run_instances
from tests.support.raw import RAM

FAULTS = "/_ecsram/faults"


def faults_request(server: ServerProcess, method: str, path: str = FAULTS, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{server.url}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def add_rule(server: ServerProcess) -> Iterator[Callable[..., dict[str, Any]]]:
    """Add a rule on the shared server (removed after the test); returns the rule as listed."""
    added: list[str] = []

    def add(**fields: Any) -> dict[str, Any]:
        status, body = faults_request(server, "POST", body=fields)
        assert status == 201, body
        added.append(body["rule"]["id"])
        return dict(body["rule"])

    yield add
    for rule_id in added:
        faults_request(server, "DELETE", f"{FAULTS}/{rule_id}")


def rules_of(server: ServerProcess, account_id: str) -> list[dict[str, Any]]:
    status, body = faults_request(server, "GET", f"{FAULTS}?account={account_id}")
    assert status == 200, body
    return list(body["rules"])


def describe_regions(sdk: Sdk, runtime: RuntimeOptions | None = None, **config: Any) -> Any:
    client = sdk.tea_ecs()
    for name, value in config.items():
        setattr(client, f"_{name}", value)
    return client.describe_regions_with_options(ecs_models.DescribeRegionsRequest(), runtime or RuntimeOptions())


# --- errors, and the SDKs' own retries ------------------------------------------------------------


def test_an_error_rule_answers_the_vendor_error_and_changes_nothing(
    server: ServerProcess, sdk: Sdk, add_rule: Any
) -> None:
    add_rule(account=sdk.account_id, action="Create*", product="ram", code="ServiceUnavailable", count=1)
    raw = sdk.raw()
    params = {"RoleName": "fault-role", "AssumeRolePolicyDocument": json.dumps(_ecs_trust())}
    signed = raw.v1_params("CreateRole", params, version=RAM)
    from tests.support.raw import rfc3986

    target = "/?" + "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in signed.items())
    faulted = raw.send("GET", target)
    assert faulted.status == 503 and faulted.code == "ServiceUnavailable", faulted.body
    assert faulted.json["Message"] == "The request has failed due to a temporary failure of the server."
    assert faulted.json["RequestId"]
    # The nonce was spent: the same signed request is a replay now.
    replayed = raw.send("GET", target)
    assert replayed.code == "SignatureNonceUsed", replayed.body
    # Nothing was created: the role does not exist, and a fresh request creates it.
    assert raw.v1("GetRole", {"RoleName": "fault-role"}, version=RAM).status == 404
    assert raw.v1("CreateRole", params, version=RAM).status == 200
    assert rules_of(server, sdk.account_id)[0]["remaining"] == 0


def _ecs_trust() -> dict[str, Any]:
    return {
        "Version": "1",
        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["ecs.aliyuncs.com"]}}],
    }


def test_tea_runtime_autoretry_is_ignored_but_retry_options_recover(
    server: ServerProcess, sdk: Sdk, add_rule: Any
) -> None:
    """tea-openapi 0.4.x ignores RuntimeOptions(autoretry, max_attempts); its Config.retry_options
    retries (here on the code), and the third attempt succeeds after two injected 503s."""
    add_rule(account=sdk.account_id, action="DescribeRegions", code="ServiceUnavailable", status=503, count=2)
    with pytest.raises(Exception) as caught:
        describe_regions(sdk, RuntimeOptions(autoretry=True, max_attempts=3))
    assert getattr(caught.value, "code", None) == "ServiceUnavailable"
    assert getattr(caught.value, "status_code", None) == 503
    assert rules_of(server, sdk.account_id)[0]["remaining"] == 1

    faults_request(server, "DELETE", f"{FAULTS}?account={sdk.account_id}")
    add_rule(account=sdk.account_id, action="DescribeRegions", code="ServiceUnavailable", status=503, count=2)
    retry = RetryOptions(
        {
            "retryable": True,
            "retryCondition": [
                {"maxAttempts": 3, "errorCode": ["ServiceUnavailable"], "backoff": {"policy": "Fixed", "period": 10}}
            ],
        }
    )
    answer = describe_regions(sdk, RuntimeOptions(autoretry=True, max_attempts=3), retry_options=retry)
    assert answer.status_code == 200 and answer.body.regions.region
    assert rules_of(server, sdk.account_id)[0]["remaining"] == 0


@pytest.mark.parametrize(("code", "status"), [("Throttling", 400), ("ServiceUnavailable", 503), ("InternalError", 500)])
def test_v1_core_retries_its_retryable_api(
    server: ServerProcess, sdk: Sdk, add_rule: Any, code: str, status: int
) -> None:
    """AcsClient's default retry (aliyunsdkcore/retry, retry_config.json) covers ECS
    DescribeInstanceRamRole on Throttling, ServiceUnavailable and 5xx: two faults, then success.
    (The InternalError rule asks for a 500; it is the only kind of 500 a test may see.)"""
    from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import DescribeInstanceRamRoleRequest

    (instance,) = run_instances(sdk)
    add_rule(account=sdk.account_id, action="DescribeInstanceRamRole", code=code, status=status, count=2)
    request = DescribeInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps([instance]))
    answer = sdk.v1_call(request, auto_retry=True)
    assert answer["InstanceRamRoleSets"] == {"InstanceRamRoleSet": []}, answer
    assert rules_of(server, sdk.account_id)[0]["remaining"] == 0


def test_v1_core_does_not_retry_throttling_user(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import DescribeInstanceRamRoleRequest

    add_rule(account=sdk.account_id, action="DescribeInstanceRamRole", code="Throttling.User", count=2)
    request = DescribeInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps(["i-nothere000001"]))  # the rule answers before the lookup
    with pytest.raises(ServerException) as caught:
        sdk.v1_call(request, auto_retry=True)
    assert caught.value.get_error_code() == "Throttling.User"
    assert caught.value.get_http_status() == 400
    assert caught.value.get_error_msg() == "Request was denied due to user flow control."
    assert rules_of(server, sdk.account_id)[0]["remaining"] == 1


def terraform_need_retry(error: Exception) -> bool:
    """The Terraform provider's NeedRetry, replayed: Throttling* codes, ServiceUnavailable, 5xx."""
    code = str(getattr(error, "code", ""))
    status = int(getattr(error, "status_code", 0) or 0)
    return code.startswith("Throttling") or code == "ServiceUnavailable" or status >= 500


def test_terraform_retry_rule_recovers(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    add_rule(account=sdk.account_id, action="Describe*", product="ecs", code="Throttling.User", count=1)
    add_rule(account=sdk.account_id, action="DescribeRegions", code="InternalError", count=1)
    attempts: list[str] = []
    for _attempt in range(5):
        try:
            answer = describe_regions(sdk)
            break
        except Exception as exc:
            assert terraform_need_retry(exc), exc
            attempts.append(str(getattr(exc, "code", "")))
    else:
        pytest.fail("no success after 5 attempts")
    assert answer.status_code == 200
    assert attempts == ["Throttling.User", "InternalError"]


# --- latency and dropped connections -------------------------------------------------------------


def test_latency_beyond_the_sdk_read_timeout_times_out(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    add_rule(account=sdk.account_id, action="DescribeRegions", effect="latency", latency_ms=3000, count=1)
    with pytest.raises(UnretryableException) as caught:
        describe_regions(sdk, RuntimeOptions(read_timeout=300))
    inner = caught.value.inner_exception
    assert isinstance(inner, RetryError) and "Read timed out" in inner.message, inner
    # The rule is used up: the next call answers within the same timeout.
    assert describe_regions(sdk, RuntimeOptions(read_timeout=5000)).status_code == 200


def test_latency_within_the_timeout_answers(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    add_rule(account=sdk.account_id, action="DescribeRegions", effect="latency", latency_ms=200)
    assert describe_regions(sdk, RuntimeOptions(read_timeout=10_000)).status_code == 200


def test_a_dropped_connection_is_the_sdk_connection_error_and_a_retry_succeeds(
    server: ServerProcess, sdk: Sdk, add_rule: Any
) -> None:
    add_rule(account=sdk.account_id, action="DescribeRegions", effect="drop", count=1)
    with pytest.raises(UnretryableException) as caught:
        describe_regions(sdk)
    inner = caught.value.inner_exception
    assert isinstance(inner, RetryError) and "closed connection without response" in inner.message, inner
    assert describe_regions(sdk).status_code == 200
    # With retry options that name the connection error, the SDK's own retry gets through.
    add_rule(account=sdk.account_id, action="DescribeRegions", effect="drop", count=1)
    retry = RetryOptions(
        {
            "retryCondition": [
                {"maxAttempts": 2, "exception": ["RetryError"], "backoff": {"policy": "Fixed", "period": 10}}
            ]
        }
    )
    assert describe_regions(sdk, retry_options=retry).status_code == 200
    assert rules_of(server, sdk.account_id)[-1]["remaining"] == 0


# --- matching and expiry ---------------------------------------------------------------------------


def test_an_account_rule_does_not_touch_another_account(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    add_rule(account=sdk.account_id, code="ServiceUnavailable")
    other = sdk.other_account()
    assert describe_regions(other).status_code == 200
    with pytest.raises(Exception) as caught:
        describe_regions(sdk)
    assert getattr(caught.value, "code", None) == "ServiceUnavailable"


def test_an_instance_rule_matches_calls_naming_that_instance(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    first, second = run_instances(sdk, amount=2)
    add_rule(account=sdk.account_id, instance_id=first, code="ServiceUnavailable")
    ecs = sdk.tea_ecs()
    named_second = ecs.describe_instances(
        ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou", instance_ids=json.dumps([second]))
    )
    assert named_second.body.total_count == 1
    with pytest.raises(Exception) as caught:
        ecs.describe_instances(
            ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou", instance_ids=json.dumps([second, first]))
        )
    assert getattr(caught.value, "code", None) == "ServiceUnavailable"
    assert getattr(caught.value, "status_code", None) == 503


def test_probability_zero_never_fires_and_one_always_does(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    add_rule(account=sdk.account_id, action="DescribeRegions", code="Throttling", probability=0)
    for _ in range(3):
        assert describe_regions(sdk).status_code == 200
    add_rule(account=sdk.account_id, action="DescribeRegions", code="Throttling", probability=1)
    with pytest.raises(Exception) as caught:
        describe_regions(sdk)
    assert getattr(caught.value, "code", None) == "Throttling"


def test_a_rule_expires(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    rule = add_rule(account=sdk.account_id, action="DescribeRegions", code="ServiceUnavailable", ttl_seconds=4)
    assert rule["expires_at"].endswith("Z")
    with pytest.raises(Exception) as caught:
        describe_regions(sdk)
    assert getattr(caught.value, "code", None) == "ServiceUnavailable"
    time.sleep(4.3)
    assert describe_regions(sdk).status_code == 200
    assert rules_of(server, sdk.account_id) == []


def test_a_rule_can_be_removed(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    rule = add_rule(account=sdk.account_id, action="DescribeRegions", code="ServiceUnavailable")
    with pytest.raises(Exception) as caught:
        describe_regions(sdk)
    assert getattr(caught.value, "code", None) == "ServiceUnavailable"
    assert faults_request(server, "DELETE", f"{FAULTS}/{rule['id']}") == (200, {"status": "removed", "removed": 1})
    assert describe_regions(sdk).status_code == 200
    assert faults_request(server, "DELETE", f"{FAULTS}/{rule['id']}")[0] == 404


# --- bad input --------------------------------------------------------------------------------------

BAD_RULES: list[tuple[Any, str]] = [
    ({"code": "Not A Code"}, "code"),
    ({"code": "Throttling..User"}, "code"),
    ({"code": "Made.Up"}, "status"),
    ({"code": "ServiceUnavailable", "status": 200}, "status"),
    ({"code": "ServiceUnavailable", "probability": 1.5}, "probability"),
    ({"code": "ServiceUnavailable", "probability": -0.1}, "probability"),
    ({"code": "ServiceUnavailable", "probability": "NaN"}, "probability"),
    ({"effect": "latency", "latency_ms": -5}, "latency_ms"),
    ({"effect": "latency"}, "latency_ms"),
    ({"effect": "explode"}, "effect"),
    ({"code": "ServiceUnavailable", "action": "Attach[*"}, "action"),
    ({"code": "ServiceUnavailable", "action": "'; DROP TABLE fault_rules; --"}, "action"),
    ({"code": "ServiceUnavailable", "message": "line\nbreak"}, "message"),
    ({"code": "ServiceUnavailable", "message": "x" * 600}, "message"),
    ({"code": "ServiceUnavailable", "account": "12"}, "account"),
    ({"code": "ServiceUnavailable", "product": "vpc"}, "product"),
    ({"code": "ServiceUnavailable", "instance_id": "<script>"}, "instance_id"),
    ({"code": "ServiceUnavailable", "count": 0}, "count"),
    ({"code": "ServiceUnavailable", "count": 2, "probability": 0.5}, "count"),
    ({"code": "ServiceUnavailable", "ttl_seconds": -1}, "ttl_seconds"),
    ({"code": "ServiceUnavailable", "expires_at": "tomorrow"}, "expires_at"),
    ({"code": "ServiceUnavailable", "color": "red"}, "color"),
    (["not", "an", "object"], "(rule)"),
    ({"effect": "drop", "code": "InternalError"}, "code"),
]


@pytest.mark.parametrize(("body", "field"), BAD_RULES)
def test_bad_rules_are_refused_and_change_nothing(server: ServerProcess, sdk: Sdk, body: Any, field: str) -> None:
    if isinstance(body, dict):
        body = {"account": sdk.account_id, **body} if "account" not in body else body
    status, answer = faults_request(server, "POST", body=body)
    assert status == 400, answer
    assert answer["code"] == "InvalidParameter.Rule"
    assert answer["message"].startswith(f"{field}:"), answer
    assert rules_of(server, sdk.account_id) == []


def test_a_body_that_is_not_json_is_refused(server: ServerProcess) -> None:
    status, answer = faults_request(server, "POST", body=b"\xff{not json")
    assert status == 400 and answer["code"] == "InvalidParameter.Body"
    assert faults_request(server, "PUT")[0] == 405
    assert faults_request(server, "DELETE", f"{FAULTS}/nope")[0] == 400
    assert faults_request(server, "GET", f"{FAULTS}?account=1")[0] == 400


# --- throttling -------------------------------------------------------------------------------------


def test_throttling_is_per_key_and_action_across_two_workers(server_factory: Callable[..., ServerProcess]) -> None:
    from ecsram.testing.accounts import create_account

    throttled = server_factory(workers=2, extra_args=("--throttle", "3/m"))
    sdk = Sdk(throttled.endpoint, create_account(throttled.database_url), throttled.database_url)
    raw = sdk.raw()
    answers = [raw.v1("DescribeRegions") for _ in range(5)]
    assert [answer.status for answer in answers] == [200, 200, 200, 400, 400], [a.body for a in answers]
    assert answers[3].code == "Throttling.User"
    assert answers[3].json["Message"] == "Request was denied due to user flow control."
    # Another action has a bucket of its own, and so has another AccessKey.
    assert raw.v1("DescribeInstances", {"RegionId": "cn-hangzhou"}).status == 200
    assert sdk.other_account().raw().v1("DescribeRegions").status == 200


def test_the_throttle_rate_is_checked_at_start(tmp_path: Any) -> None:
    from tests.support.admin import ecsram

    result = ecsram("serve", "--throttle", "fast", "--database", f"sqlite:///{tmp_path}/x.db")
    assert result.returncode != 0
    assert "is not a rate" in result.stderr


# --- seed files and the command line -----------------------------------------------------------------


def test_seed_file_faults_and_the_cli(server_factory: Callable[..., ServerProcess], tmp_path: Any) -> None:
    from ecsram.testing.accounts import create_account
    from tests.support.admin import ecsram

    dedicated = server_factory(workers=2)
    sdk = Sdk(dedicated.endpoint, create_account(dedicated.database_url), dedicated.database_url)
    seed = tmp_path / "faults.yaml"
    seed.write_text(
        f"faults:\n  - account: '{sdk.account_id}'\n    action: DescribeRegions\n"
        "    code: Throttling.User\n    count: 1\n"
    )
    url = dedicated.database_url
    applied = ecsram("seed", str(seed), "--database", url)
    assert applied.returncode == 0, applied.stderr
    again = ecsram("seed", str(seed), "--database", url)  # the same declaration is not added twice
    assert again.returncode == 0, again.stderr
    listed = ecsram("faults", "list", "--format", "json", "--database", url)
    (rule,) = json.loads(listed.stdout)["rules"]
    assert rule["code"] == "Throttling.User" and rule["remaining"] == 1
    with pytest.raises(Exception) as caught:
        describe_regions(sdk)
    assert getattr(caught.value, "code", None) == "Throttling.User"
    assert describe_regions(sdk).status_code == 200

    added = ecsram("faults", "add", "--account", sdk.account_id, "--code", "ServiceUnavailable", "--database", url)
    assert added.returncode == 0, added.stderr
    with pytest.raises(Exception) as caught:
        describe_regions(sdk)
    assert getattr(caught.value, "code", None) == "ServiceUnavailable"
    assert ecsram("faults", "remove", added.stdout.strip(), "--database", url).returncode == 0
    assert describe_regions(sdk).status_code == 200

    refused = ecsram("faults", "add", "--probability", "2", "--code", "Throttling", "--database", url)
    assert refused.returncode != 0 and "--probability" in refused.stderr
    cleared = ecsram("faults", "clear", "--database", url)
    assert cleared.returncode == 0 and "removed 1 rule(s)" in cleared.stdout


def test_a_bad_fault_in_a_seed_file_names_the_line_and_field(tmp_path: Any, database_factory: Any) -> None:
    from tests.support.admin import ecsram

    seed = tmp_path / "bad.yaml"
    seed.write_text("faults:\n  - action: Attach*\n    code: ServiceUnavailable\n    probability: 7\n")
    result = ecsram("seed", str(seed), "--database", database_factory())
    assert result.returncode != 0
    assert "bad.yaml:4: faults[0].probability: 7 is not a number from 0 to 1" in result.stderr, result.stderr


# --- the signed operations, for callers beyond loopback ----------------------------------------------

ECSRAM_VERSION = "2026-11-01"


def test_signed_fault_operations_act_on_the_callers_account(server: ServerProcess, sdk: Sdk) -> None:
    raw = sdk.raw()
    rule = json.dumps({"code": "ServiceUnavailable", "action": "*"})
    added = raw.v1("AddFaultRule", {"Rule": rule}, version=ECSRAM_VERSION)
    assert added.status == 200, added.body
    rule_id = added.json["Rule"]["id"]
    assert added.json["Rule"]["account"] == sdk.account_id
    time.sleep(0.2)  # every worker reads the rules again within 0.1 s
    assert raw.v1("DescribeRegions").code == "ServiceUnavailable"
    # ecsram's own operations are not faulted by a rule that does not name them.
    listed = raw.v1("ListFaultRules", version=ECSRAM_VERSION)
    assert [item["id"] for item in listed.json["Rules"]] == [rule_id]
    removed = raw.v1("RemoveFaultRules", {"RuleId": rule_id}, version=ECSRAM_VERSION)
    assert removed.status == 200 and removed.json["Removed"] == 1
    time.sleep(0.2)
    assert raw.v1("DescribeRegions").status == 200
    assert raw.v1("RemoveFaultRules", {"RuleId": rule_id}, version=ECSRAM_VERSION).status == 404


def test_signed_fault_operations_refuse_users_other_accounts_and_bad_rules(server: ServerProcess, sdk: Sdk) -> None:
    other = sdk.other_account()
    someone_else = json.dumps({"code": "ServiceUnavailable", "account": other.account_id})
    refused = sdk.raw().v1("AddFaultRule", {"Rule": someone_else}, version=ECSRAM_VERSION)
    assert refused.status == 400 and refused.code == "InvalidParameter.Rule", refused.body
    bad = sdk.raw().v1("AddFaultRule", {"Rule": json.dumps({"probability": 3})}, version=ECSRAM_VERSION)
    assert bad.status == 400 and bad.code == "InvalidParameter.Rule", bad.body
    not_json = sdk.raw().v1("AddFaultRule", {"Rule": "{oops"}, version=ECSRAM_VERSION)
    assert not_json.status == 400 and not_json.code == "InvalidParameter.Rule", not_json.body
    user = sdk.new_user("AdministratorAccess")
    forbidden = user.raw().v1("AddFaultRule", {"Rule": json.dumps({"code": "Throttling"})}, version=ECSRAM_VERSION)
    assert forbidden.status == 403 and forbidden.code == "Forbidden.RootAccessKeyRequired", forbidden.body
    assert rules_of(server, sdk.account_id) == [] and rules_of(server, other.account_id) == []


# --- counted across workers ------------------------------------------------------------------------


def test_the_next_n_calls_are_counted_across_workers(server: ServerProcess, sdk: Sdk, add_rule: Any) -> None:
    """Concurrent calls on the two-worker server: exactly N of them are faulted."""
    from concurrent.futures import ThreadPoolExecutor

    add_rule(account=sdk.account_id, action="DescribeRegions", code="ServiceUnavailable", count=5)
    raw = sdk.raw()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _index: raw.v1("DescribeRegions"), range(16)))
    codes = sorted(str(answer.code) for answer in answers)
    assert codes == ["None"] * 11 + ["ServiceUnavailable"] * 5, [answer.body for answer in answers]
    assert rules_of(server, sdk.account_id)[0]["remaining"] == 0


def test_concurrent_calls_share_one_throttle_bucket(server_factory: Callable[..., ServerProcess]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ecsram.testing.accounts import create_account

    throttled = server_factory(workers=2, extra_args=("--throttle", "4/m"))
    raw = Sdk(throttled.endpoint, create_account(throttled.database_url), throttled.database_url).raw()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _index: raw.v1("DescribeRegions"), range(12)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200] * 4 + [400] * 8, [answer.body for answer in answers]
