"""The audit trail through ActionTrail's LookupEvents (official Tea SDK): what a call leaves in
it, filters, paging in both directions, errors, secrets, accounts and RAM permissions."""

from __future__ import annotations

import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from alibabacloud_actiontrail20200706 import models as trail_models
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.conftest import Sdk
from tests.support.ecs import REGION, allow, attach, attach_policy_to_user, create_policy, create_role, run_instances
from tests.support.metadata import CREDENTIALS, Metadata

ISO_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
ACTIONTRAIL = "2020-07-06"


def lookup(sdk: Sdk, *attributes: tuple[str, str], **options: Any) -> Any:
    request = trail_models.LookupEventsRequest(
        lookup_attribute=[trail_models.LookupEventsRequestLookupAttribute(key=k, value=v) for k, v in attributes]
        or None,
        **options,
    )
    return sdk.tea_actiontrail().lookup_events(request).body


def events(sdk: Sdk, *attributes: tuple[str, str], **options: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = lookup(sdk, *attributes, max_results="50", **options).events
    return found


def by_request(sdk: Sdk, request_id: str, event_name: str) -> dict[str, Any]:
    matching = [e for e in events(sdk, ("EventName", event_name)) if e["requestId"] == request_id]
    assert len(matching) == 1, matching
    return matching[0]


def describe_regions(sdk: Sdk) -> str:
    request_id: str = sdk.tea_ecs().describe_regions(ecs_models.DescribeRegionsRequest()).body.request_id
    return request_id


def test_a_write_is_recorded_in_actiontrails_event_structure(sdk: Sdk) -> None:
    role = f"trail-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    (instance,) = run_instances(sdk, 1)
    request_id = attach(sdk, role, [instance])["RequestId"]

    event = by_request(sdk, request_id, "AttachInstanceRamRole")
    assert event["eventId"] == request_id
    assert (event["eventName"], event["eventRW"], event["eventType"]) == ("AttachInstanceRamRole", "Write", "ApiCall")
    assert (event["serviceName"], event["eventSource"], event["acsRegion"]) == ("Ecs", "ecs.aliyuncs.com", REGION)
    assert ISO_UTC.fullmatch(event["eventTime"]) and event["eventVersion"] == "1"
    assert event["sourceIpAddress"] == "127.0.0.1" and event["userAgent"]
    identity = event["userIdentity"]
    assert identity["type"] == "root-account"
    assert (identity["accountId"], identity["principalId"]) == (sdk.account_id, sdk.account_id)
    assert identity["accessKeyId"] == sdk.key.access_key_id
    assert set(event["resourceName"].split(";")) == {role, instance}
    assert set(event["resourceType"].split(";")) == {"ACS::RAM::Role", "ACS::ECS::Instance"}
    assert event["requestParameters"]["RamRoleName"] == role
    assert json.loads(event["requestParameters"]["InstanceIds"]) == [instance]
    assert "errorCode" not in event and event["isGlobal"] is False
    # The resources it named find it too.
    assert request_id in [e["requestId"] for e in events(sdk, ("ResourceName", instance))]
    assert request_id in [e["requestId"] for e in events(sdk, ("ResourceType", "ACS::ECS::Instance"))]
    assert request_id not in [e["requestId"] for e in events(sdk, ("ResourceName", "i-not-this-one"))]


def test_reads_have_no_request_parameters_and_filter_by_rw(sdk: Sdk) -> None:
    read_id = describe_regions(sdk)
    run_instances(sdk, 1)
    reads = events(sdk, ("EventRW", "Read"))
    writes = events(sdk, ("EventRW", "Write"))
    assert read_id in [e["requestId"] for e in reads]
    assert {e["eventRW"] for e in reads} == {"Read"} and {e["eventRW"] for e in writes} == {"Write"}
    assert "RunInstances" in [e["eventName"] for e in writes]
    assert "requestParameters" not in by_request(sdk, read_id, "DescribeRegions")
    # Two attributes: both must match.
    both = events(sdk, ("EventRW", "Read"), ("EventName", "DescribeRegions"))
    assert [e["requestId"] for e in both] == [read_id]
    assert events(sdk, ("EventRW", "Write"), ("EventName", "DescribeRegions")) == []


def test_failures_are_recorded_with_their_error_codes(sdk: Sdk) -> None:
    (instance,) = run_instances(sdk, 1)
    with pytest.raises(ClientException) as caught:
        attach(sdk, "no-such-role", [instance])
    failed = [e for e in events(sdk, ("EventName", "AttachInstanceRamRole")) if "errorCode" in e]
    assert len(failed) == 1
    assert failed[0]["errorCode"] == caught.value.code and failed[0]["errorMessage"]
    assert failed[0]["requestId"] == caught.value.request_id
    assert failed[0]["additionalEventData"]["httpStatus"] == caught.value.status_code
    # A refused signature is recorded under the account its AccessKeyId names.
    wrong = sdk.with_credentials(sdk.key.access_key_id, "not-the-secret")
    with pytest.raises(ClientException) as refused:
        describe_regions(wrong)
    assert refused.value.code == "SignatureDoesNotMatch"
    recorded = by_request(sdk, refused.value.request_id, "DescribeRegions")
    assert recorded["errorCode"] == "SignatureDoesNotMatch"
    assert recorded["userIdentity"]["accessKeyId"] == sdk.key.access_key_id


def test_an_unknown_action_with_a_known_key_is_recorded_apart(sdk: Sdk) -> None:
    response = sdk.raw().v1("NoSuchAction", {"RegionId": REGION})
    assert response.status == 404
    event = by_request(sdk, response.headers["x-acs-request-id"], "NoSuchAction")
    assert event["errorCode"] == response.code


def test_secrets_and_long_policy_documents_are_left_out(sdk: Sdk) -> None:
    long_trust = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": [f"ecs{i}.aliyuncs.com"]}}
                for i in range(60)
            ],
        }
    )
    assert len(long_trust) > 2048
    name = f"trail-{uuid.uuid4().hex[:8]}"
    response = sdk.raw().v1(
        "CreateRole",
        {"RoleName": name, "AssumeRolePolicyDocument": long_trust, "Password": "hunter2-password"},
        version="2015-05-01",
    )
    event = by_request(sdk, response.headers["x-acs-request-id"], "CreateRole")
    text = json.dumps(event)
    assert "hunter2-password" not in text and "Password" not in event["requestParameters"]
    for key in ("Signature", "AccessKeyId", "SignatureNonce", "SecurityToken"):
        assert key not in event["requestParameters"]
    assert event["requestParameters"]["AssumeRolePolicyDocument"] == f"(omitted: {len(long_trust)} bytes)"
    assert event["requestParameters"]["RoleName"] == name and event["isGlobal"] is True


def test_paging_both_ways(sdk: Sdk) -> None:
    ids = [describe_regions(sdk) for _ in range(5)]
    name = ("EventName", "DescribeRegions")
    for direction, expected in (("Backward", ids[::-1]), ("Forward", ids), (None, ids[::-1])):
        seen: list[str] = []
        token = None
        for _page in range(10):
            body = lookup(sdk, name, max_results="2", next_token=token, direction=direction)
            assert len(body.events) <= 2
            seen += [e["requestId"] for e in body.events]
            token = body.next_token
            if not token:
                break
        # Events of one millisecond are ordered by ID: compare as sets, and the order by time.
        assert sorted(seen) == sorted(expected)
        times = [e["eventTime"] for e in events(sdk, name, direction=direction)]
        assert times == sorted(times, reverse=direction != "Forward")
    assert lookup(sdk, name, max_results="5").next_token == ""


def test_time_window(sdk: Sdk) -> None:
    describe_regions(sdk)
    assert events(sdk, start_time="2020-01-01T00:00:00Z", end_time="2020-01-02T00:00:00Z") == []
    body = lookup(sdk, start_time="2020-01-01T00:00:00Z", end_time="2099-01-01T00:00:00Z")
    assert body.events and (body.start_time, body.end_time) == ("2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"StartTime": "yesterday"}, "InvalidParameterStartTime"),
        ({"EndTime": "2026-13-45T99:00:00Z"}, "InvalidParameterEndTime"),
        ({"StartTime": "2026-01-02T00:00:00Z", "EndTime": "2026-01-01T00:00:00Z"}, "InvalidParameterCombination"),
        ({"MaxResults": "51"}, "InvalidQueryParameter"),
        ({"MaxResults": "0"}, "InvalidQueryParameter"),
        ({"Direction": "Sideways"}, "InvalidQueryParameter"),
        ({"NextToken": "not-a-token"}, "InvalidQueryParameter"),
        ({"LookupAttribute.1.Key": "Colour", "LookupAttribute.1.Value": "x"}, "InvalidQueryParameter"),
        ({"LookupAttribute.1.Key": "EventName"}, "InvalidQueryParameter"),
        ({"LookupAttribute.3.Key": "EventName", "LookupAttribute.3.Value": "x"}, "InvalidQueryParameter"),
        ({"LookupAttribute.1.Key": "EventRW", "LookupAttribute.1.Value": "Both"}, "InvalidQueryParameter"),
    ],
)
def test_lookup_errors(sdk: Sdk, params: dict[str, str], code: str) -> None:
    response = sdk.raw().v1("LookupEvents", params, version=ACTIONTRAIL)
    assert (response.status, response.code) == (400, code), response.body


def test_an_account_sees_only_its_own_events(sdk: Sdk) -> None:
    mine = describe_regions(sdk)
    other = sdk.other_account()
    theirs = describe_regions(other)
    assert mine not in [e["requestId"] for e in events(other)]
    assert theirs in [e["requestId"] for e in events(other)]
    assert {e["userIdentity"]["accountId"] for e in events(other)} == {other.account_id}


def test_ram_users_need_the_permission_and_are_identified(sdk: Sdk) -> None:
    user = sdk.new_user("AliyunECSReadOnlyAccess")
    with pytest.raises(ClientException) as caught:
        lookup(user)
    assert (caught.value.code, caught.value.status_code) == ("NoPermission", 403)
    assert caught.value.access_denied_detail["AuthAction"] == "actiontrail:LookupEvents"
    read_id = describe_regions(user)
    event = by_request(sdk, read_id, "DescribeRegions")
    assert event["userIdentity"]["type"] == "ram-user"
    assert event["userIdentity"]["userName"] == user.user_name
    by_key = events(sdk, ("EventAccessKeyId", user.key.access_key_id))
    assert read_id in [e["requestId"] for e in by_key]
    assert {e["userIdentity"]["accessKeyId"] for e in by_key} == {user.key.access_key_id}
    # The denied lookup is in the trail as well.
    denied = by_request(sdk, caught.value.request_id, "LookupEvents")
    assert (denied["errorCode"], denied["serviceName"]) == ("NoPermission", "Actiontrail")
    policy = f"trail-{uuid.uuid4().hex[:8]}"
    create_policy(sdk, policy, allow("actiontrail:LookupEvents"))
    attach_policy_to_user(sdk, user.user_name or "", policy, policy_type="Custom")
    assert read_id in [e["requestId"] for e in events(user)]


def test_metadata_credential_fetches_are_recorded(sdk: Sdk) -> None:
    role = f"trail-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    (instance,) = run_instances(sdk, 1)
    attach(sdk, role, [instance])
    answer = Metadata(sdk.endpoint, instance).get(CREDENTIALS + role)
    assert answer.status == 200
    key = json.loads(answer.body)["AccessKeyId"]
    (event,) = events(sdk, ("EventName", "GetInstanceRamRoleCredentials"))
    assert event["userIdentity"]["type"] == "assumed-role"
    assert event["userIdentity"]["principalId"].endswith(f":{instance}")
    assert event["userIdentity"]["accessKeyId"] == key
    assert set(event["resourceName"].split(";")) == {instance, role}
    assert "AccessKeySecret" not in json.dumps(event) and "SecurityToken" not in json.dumps(event)


def test_concurrent_metadata_requests_are_each_answered_and_every_fetch_recorded_once(sdk: Sdk) -> None:
    """Metadata requests that arrive together share one transaction (imds/service.py,
    ``handle_many``): each still gets its own answer, and the trail holds exactly one event per
    successful credential fetch, for the instance that fetched."""
    role = f"trail-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    first, second, unbound = run_instances(sdk, 3)
    attach(sdk, role, [first, second])
    asks = [
        (first, CREDENTIALS + role, 200),
        (second, CREDENTIALS + role, 200),
        (first, "/latest/meta-data/instance-id", 200),
        (unbound, CREDENTIALS + role, 404),
        (f"i-{uuid.uuid4().hex[:20]}", CREDENTIALS + role, 404),
        (second, CREDENTIALS + "not-" + role, 404),
    ] * 4
    start = threading.Barrier(len(asks))

    def ask(instance: str, path: str) -> tuple[int, bytes]:
        start.wait()
        answer = Metadata(sdk.endpoint, instance).get(path)
        return answer.status, answer.body

    with ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(lambda item: ask(item[0], item[1]), asks))

    assert [status for status, _body in answers] == [expected for _i, _p, expected in asks]
    for (instance, path, expected), (_status, body) in zip(asks, answers, strict=True):
        if expected == 200 and path.startswith(CREDENTIALS):
            assert json.loads(body)["Code"] == "Success"
        elif expected == 200:
            assert body.decode() == instance
    fetched = events(sdk, ("EventName", "GetInstanceRamRoleCredentials"))
    assert len(fetched) == 8
    by_instance = sorted(event["userIdentity"]["principalId"].rsplit(":", 1)[1] for event in fetched)
    assert by_instance == sorted([first] * 4 + [second] * 4)
