"""ECS instances: creation (with a role, idempotent), listing and paging, lifecycle, metadata options."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkecs.request.v20140526.DeleteInstanceRequest import DeleteInstanceRequest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest

from ecsram.contract.catalogue import vendor
from tests.conftest import Sdk
from tests.support.ecs import REGION, account_trust, attach, bindings, bound_to, create_role, run_instances
from tests.support.raw import RawResponse


def _error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    return body


def _describe(sdk: Sdk, **kwargs: Any) -> dict[str, Any]:
    request = ecs_models.DescribeInstancesRequest(region_id=kwargs.pop("region_id", REGION), **kwargs)
    body: dict[str, Any] = sdk.tea_ecs().describe_instances(request).body.to_map()
    return body


def _run(sdk: Sdk, **params: str) -> RawResponse:
    base = {"RegionId": REGION, "ImageId": "img-1", "InstanceType": "ecs.g7.large", "VSwitchId": "vsw-1"}
    return sdk.raw().v1("RunInstances", {**base, **params})


# --- creation -------------------------------------------------------------------------------


def test_run_instances_shapes(sdk: Sdk) -> None:
    ids = run_instances(sdk, 3)
    assert len(set(ids)) == 3
    assert all(i.startswith("i-") and len(i) == 22 and i[2:].isalnum() and i[2:].islower() for i in ids)
    body = _describe(sdk, instance_ids=json.dumps(ids))
    assert body["TotalCount"] == 3
    for instance in body["Instances"]["Instance"]:
        assert instance["Status"] == "Running"
        assert instance["InstanceNetworkType"] == "vpc"
        assert instance["VpcAttributes"]["VSwitchId"] == "vsw-test0001"
        assert instance["VpcAttributes"]["PrivateIpAddress"]["IpAddress"]
        assert instance["MetadataOptions"] == {
            "HttpEndpoint": "enabled",
            "HttpTokens": "optional",
            "HttpPutResponseHopLimit": 1,
        }
        assert instance["RegionId"] == REGION
        assert "RamRoleName" not in json.dumps(instance)  # DescribeInstances does not show the role


def test_without_vswitch_the_instance_is_classic(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1, vpc=False)
    (instance,) = _describe(sdk, instance_ids=json.dumps([instance_id]))["Instances"]["Instance"]
    assert instance["InstanceNetworkType"] == "classic"
    assert instance["InnerIpAddress"]["IpAddress"]


def test_create_instance_is_stopped(sdk: Sdk) -> None:
    request = ecs_models.CreateInstanceRequest(
        region_id=REGION, image_id="img", instance_type="ecs.c7.xlarge", v_switch_id="vsw-1"
    )
    instance_id = sdk.tea_ecs().create_instance(request).body.instance_id
    (instance,) = _describe(sdk, instance_ids=json.dumps([instance_id]))["Instances"]["Instance"]
    assert instance["Status"] == "Stopped"
    assert (instance["Cpu"], instance["Memory"]) == (4, 8192)


def test_run_with_role_binds_at_creation(sdk: Sdk) -> None:
    role = f"r-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    ids = run_instances(sdk, 2, ram_role_name=role)
    assert bindings(sdk, ids) == dict.fromkeys(ids, role)


def test_run_with_role_checks(sdk: Sdk) -> None:
    not_ecs = f"r-{uuid.uuid4().hex[:8]}"
    create_role(sdk, not_ecs, trust=account_trust(sdk.account_id))
    _error(_run(sdk, RamRoleName=not_ecs), 401, "InvalidRamRole.NotEcsRole")
    assert vendor.vendor_error("ecs", "RunInstances", "InvalidRamRole.NotEcsRole")[0] == 401  # type: ignore[index]
    _error(_run(sdk, RamRoleName="missing-role"), 404, "InvalidRamRole.NotFound")
    ecs_role = f"r-{uuid.uuid4().hex[:8]}"
    create_role(sdk, ecs_role)
    _error(_run(sdk, RamRoleName=ecs_role, VSwitchId=""), 403, "InvalidNetworkType.MismatchRamRole")
    assert _describe(sdk)["TotalCount"] == 0  # nothing was created


@pytest.mark.parametrize("amount", ["0", "101", "-3", "many"])
def test_amount_out_of_range(sdk: Sdk, amount: str) -> None:
    body = _error(_run(sdk, Amount=amount), 400, "InvalidParameter")
    assert '"Amount"' in body["Message"]


@pytest.mark.parametrize("missing", ["RegionId", "ImageId", "InstanceType"])
def test_run_missing_parameter(sdk: Sdk, missing: str) -> None:
    params = {"RegionId": REGION, "ImageId": "img-1", "InstanceType": "ecs.g7.large"}
    del params[missing]
    body = _error(sdk.raw().v1("RunInstances", params), 400, "MissingParameter")
    assert missing in body["Message"]


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"RegionId": "atlantis-1"}, "InvalidRegionId.NotFound", 404),
        ({"HttpTokens": "always"}, "InvalidHttpTokens.NotSupported", 400),
        ({"HttpEndpoint": "maybe"}, "InvalidHttpEndpoint.NotSupported", 400),
        ({"HttpPutResponseHopLimit": "65"}, "InvalidHttpPutResponseHopLimit.NotSupported", 400),
        ({"InstanceName": "x"}, "InvalidInstanceName.Malformed", 400),
        ({"ClientToken": "t" * 65}, "InvalidClientToken.ValueNotSupported", 400),
        ({"DryRun": "true"}, "DryRunOperation", 400),
    ],
)
def test_run_parameter_errors(sdk: Sdk, params: dict[str, str], code: str, status: int) -> None:
    _error(_run(sdk, **params), status, code)
    assert _describe(sdk)["TotalCount"] == 0


def test_client_token_is_idempotent(sdk: Sdk) -> None:
    token = uuid.uuid4().hex
    first = run_instances(sdk, 2, client_token=token)
    again = run_instances(sdk, 2, client_token=token)
    assert first == again
    assert _describe(sdk)["TotalCount"] == 2
    with pytest.raises(ClientException) as caught:
        run_instances(sdk, 3, client_token=token)
    assert caught.value.code == "IdempotentParameterMismatch"
    other = sdk.other_account()
    assert run_instances(other, 2, client_token=token) != first  # tokens are per account


def test_client_token_with_the_v1_sdk(sdk: Sdk) -> None:
    def run() -> list[str]:
        request = RunInstancesRequest()
        request.set_ImageId("img")
        request.set_InstanceType("ecs.g7.large")
        request.set_VSwitchId("vsw-1")
        request.set_ClientToken("token-v1-" + sdk.account_id)
        ids: list[str] = sdk.v1_call(request)["InstanceIdSets"]["InstanceIdSet"]
        return ids

    assert run() == run()


# --- listing --------------------------------------------------------------------------------


def test_describe_instances_page_number_paging(sdk: Sdk) -> None:
    ids = run_instances(sdk, 12)
    pages = [_describe(sdk, page_size=5, page_number=n) for n in (1, 2, 3)]
    assert [p["TotalCount"] for p in pages] == [12, 12, 12]
    assert [(p["PageNumber"], p["PageSize"]) for p in pages] == [(1, 5), (2, 5), (3, 5)]
    listed = [i["InstanceId"] for p in pages for i in p["Instances"]["Instance"]]
    assert listed == sorted(ids)


def test_describe_instances_next_token_paging(sdk: Sdk) -> None:
    ids = run_instances(sdk, 7)
    listed: list[str] = []
    token = None
    for _ in range(10):
        body = _describe(sdk, max_results=3, next_token=token)
        listed.extend(i["InstanceId"] for i in body["Instances"]["Instance"])
        token = body["NextToken"]
        if not token:
            break
    assert listed == sorted(ids)


def test_describe_instances_filters(sdk: Sdk) -> None:
    vpc = run_instances(sdk, 2)
    classic = run_instances(sdk, 1, vpc=False)
    elsewhere = run_instances(sdk, 1, region="cn-shanghai")
    assert {i["InstanceId"] for i in _describe(sdk, instance_network_type="classic")["Instances"]["Instance"]} == set(
        classic
    )
    assert {i["InstanceId"] for i in _describe(sdk, instance_network_type="vpc")["Instances"]["Instance"]} == set(vpc)
    assert _describe(sdk, status="Stopped")["TotalCount"] == 0
    assert {i["InstanceId"] for i in _describe(sdk, region_id="cn-shanghai")["Instances"]["Instance"]} == set(elsewhere)
    assert _describe(sdk, instance_ids=json.dumps(elsewhere))["TotalCount"] == 0  # another region
    assert _describe(sdk.other_account())["TotalCount"] == 0  # another account


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"InstanceNetworkType": "mesh"}, "InvalidNetworkType.NotFound", 404),
        ({"Status": "Sleeping"}, "InvalidStatus.NotFound", 404),
        ({"PageSize": "101"}, "InvalidParameter", 400),
        ({"MaxResults": "0"}, "InvalidParameter", 400),
        ({"NextToken": "garbage!"}, "InvalidParameter", 400),
        ({"InstanceIds": "i-1"}, "InvalidInstanceIds.Malformed", 400),
    ],
)
def test_describe_instances_errors(sdk: Sdk, params: dict[str, str], code: str, status: int) -> None:
    _error(sdk.raw().v1("DescribeInstances", {"RegionId": REGION, **params}), status, code)


def test_describe_instances_with_the_v1_sdk(sdk: Sdk) -> None:
    ids = run_instances(sdk, 2)
    body = sdk.v1_call(DescribeInstancesRequest())
    assert {i["InstanceId"] for i in body["Instances"]["Instance"]} == set(ids)


# --- lifecycle ------------------------------------------------------------------------------


def test_stop_start_delete(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    ecs = sdk.tea_ecs()
    with pytest.raises(ClientException) as caught:
        ecs.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=instance_id))
    assert (caught.value.code, caught.value.status_code) == ("IncorrectInstanceStatus", 403)
    with pytest.raises(ClientException) as caught:
        ecs.start_instance(ecs_models.StartInstanceRequest(instance_id=instance_id))
    assert caught.value.code == "IncorrectInstanceStatus"
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=instance_id))
    assert _describe(sdk)["Instances"]["Instance"][0]["Status"] == "Stopped"
    ecs.start_instance(ecs_models.StartInstanceRequest(instance_id=instance_id))
    assert _describe(sdk)["Instances"]["Instance"][0]["Status"] == "Running"
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=instance_id))
    ecs.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=instance_id))
    assert _describe(sdk)["TotalCount"] == 0


def test_unknown_instance_lifecycle_errors(sdk: Sdk) -> None:
    theirs = run_instances(sdk.other_account(), 1)[0]
    for action in ("StartInstance", "StopInstance", "DeleteInstance"):
        _error(sdk.raw().v1(action, {"InstanceId": theirs}), 404, "InvalidInstanceId.NotFound")


def test_deleting_an_instance_drops_its_binding(sdk: Sdk) -> None:
    role = f"r-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    ids = run_instances(sdk, 2)
    attach(sdk, role, ids)
    request = DeleteInstanceRequest()
    request.set_InstanceId(ids[0])
    request.set_Force(True)
    sdk.v1_call(request)
    assert bound_to(sdk, role) == [ids[1]]
    response = sdk.raw().v1("DescribeInstanceRamRole", {"RegionId": REGION, "InstanceIds": json.dumps(ids)})
    _error(response, 404, "InvalidInstanceId.NotFound")


def test_delete_instances(sdk: Sdk) -> None:
    ids = run_instances(sdk, 3)
    params = {"RegionId": REGION, "InstanceId.1": ids[0], "InstanceId.2": ids[1]}
    _error(sdk.raw().v1("DeleteInstances", params), 403, "IncorrectInstanceStatus")
    # An ID that is gone: the code Terraform's alicloud_ecs_instance_set tolerates (vendor catalogue).
    body = _error(
        sdk.raw().v1("DeleteInstances", {**params, "InstanceId.3": "i-missing0000000000000"}),
        404,
        "InvalidInstanceIds.NotFound",
    )
    assert "i-missing0000000000000" in body["Message"]
    published = vendor.vendor_error("ecs", "DeleteInstances", "InvalidInstanceIds.NotFound")
    assert published is not None and body["Message"].startswith(published[1].rstrip("."))
    assert sdk.raw().v1("DeleteInstances", {**params, "Force": "true"}).status == 200
    assert [i["InstanceId"] for i in _describe(sdk)["Instances"]["Instance"]] == [ids[2]]
    request = ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=[ids[2]], force=True)
    sdk.tea_ecs().delete_instances(request)
    assert _describe(sdk)["TotalCount"] == 0


def test_delete_instances_needs_ids(sdk: Sdk) -> None:
    _error(sdk.raw().v1("DeleteInstances", {"RegionId": REGION}), 400, "MissingParameter")
    _error(sdk.raw().v1("DeleteInstances", {"RegionId": REGION, "InstanceId.0": "i-x"}), 400, "InvalidParameter")
    too_many = {f"InstanceId.{n}": f"i-{n:020d}" for n in range(1, 102)}
    _error(
        sdk.raw().v1("DeleteInstances", {"RegionId": REGION, **too_many}), 403, "InvalidParameter.TooManyInstanceIds"
    )
    _error(
        sdk.raw().v1("DeleteInstances", {"RegionId": REGION, "InstanceId.101": "i-x"}),
        403,
        "InvalidParameter.TooManyInstanceIds",
    )


def test_delete_instances_of_a_deleted_instance_with_the_sdks(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    request = ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=[instance_id], force=True)
    sdk.tea_ecs().delete_instances(request)
    with pytest.raises(ClientException) as caught:
        sdk.tea_ecs().delete_instances(request)
    assert (caught.value.code, caught.value.status_code) == ("InvalidInstanceIds.NotFound", 404)
    # Still running instances without Force: the vendor's IncorrectInstanceStatus, naming the instance.
    (running,) = run_instances(sdk, 1)
    response = sdk.raw().v1("DeleteInstances", {"RegionId": REGION, "InstanceId.1": running})
    assert running in _error(response, 403, "IncorrectInstanceStatus")["Message"]


def test_modify_metadata_options(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    request = ecs_models.ModifyInstanceMetadataOptionsRequest(
        region_id=REGION,
        instance_id=instance_id,
        http_endpoint="enabled",
        http_tokens="required",
        http_put_response_hop_limit=2,
    )
    sdk.tea_ecs().modify_instance_metadata_options(request)
    (instance,) = _describe(sdk)["Instances"]["Instance"]
    assert instance["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
    }
    params = {"RegionId": REGION, "InstanceId": instance_id, "HttpEndpoint": "enabled", "HttpTokens": "sometimes"}
    _error(sdk.raw().v1("ModifyInstanceMetadataOptions", params), 400, "InvalidHttpTokens.NotSupported")
    params = {"RegionId": REGION, "InstanceId": "i-missing0000000000000", "HttpEndpoint": "enabled"}
    _error(sdk.raw().v1("ModifyInstanceMetadataOptions", params), 404, "InvalidInstanceId.NotFound")
