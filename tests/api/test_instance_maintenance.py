"""DescribeInstanceMaintenanceAttributes through the official SDKs: what newer releases of
Terraform's alicloud_instance read (ActionOnMaintenance.Value, MaintenanceWindows,
NotifyOnMaintenance), paging, and the errors."""

from __future__ import annotations

import json

from alibabacloud_ecs20140526 import models as ecs_models
from aliyunsdkecs.request.v20140526.DescribeInstanceMaintenanceAttributesRequest import (
    DescribeInstanceMaintenanceAttributesRequest,
)

from tests.conftest import Sdk
from tests.support.ecs import REGION, run_instances

ACTION = "DescribeInstanceMaintenanceAttributes"


def test_every_instance_shows_the_default_action_and_no_window(sdk: Sdk) -> None:
    ids = run_instances(sdk, 2)
    request = ecs_models.DescribeInstanceMaintenanceAttributesRequest(region_id=REGION, instance_id=ids)
    body = sdk.tea_ecs().describe_instance_maintenance_attributes(request).body
    assert (body.total_count, body.page_number, body.page_size) == (2, 1, 10)
    items = body.maintenance_attributes.maintenance_attribute
    assert sorted(item.instance_id for item in items) == sorted(ids)
    for item in items:
        assert item.action_on_maintenance.value == "AutoRecover"
        assert item.action_on_maintenance.default_value == "AutoRecover"
        assert item.action_on_maintenance.supported_values.supported_value == ["Stop", "AutoRecover", "AutoRedeploy"]
        assert item.maintenance_windows.maintenance_window == []
        assert item.notify_on_maintenance is False


def test_paging_and_all_instances_of_the_region(sdk: Sdk) -> None:
    ids = sorted(run_instances(sdk, 3))
    request = DescribeInstanceMaintenanceAttributesRequest()
    request.set_PageSize(2)
    request.set_PageNumber(2)
    body = sdk.v1_call(request)
    assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (3, 2, 2)
    assert [item["InstanceId"] for item in body["MaintenanceAttributes"]["MaintenanceAttribute"]] == ids[2:]
    other_region = sdk.raw().v1(ACTION, {"RegionId": "cn-beijing"})
    assert other_region.status == 200 and other_region.json["TotalCount"] == 0


def test_unknown_instance_and_bad_parameters(sdk: Sdk) -> None:
    (instance,) = run_instances(sdk)
    raw = sdk.raw()
    unknown = raw.v1(ACTION, {"RegionId": REGION, "InstanceId.1": instance, "InstanceId.2": "i-doesnotexist0000000"})
    assert (unknown.status, unknown.code) == (404, "InvalidInstanceId.NotFound"), unknown.body
    # Another account's instance is unknown too.
    stranger = sdk.other_account().raw().v1(ACTION, {"RegionId": REGION, "InstanceId.1": instance})
    assert (stranger.status, stranger.code) == (404, "InvalidInstanceId.NotFound")
    too_big = raw.v1(ACTION, {"RegionId": REGION, "PageSize": "101"})
    assert too_big.status == 400 and too_big.code is not None and too_big.code.startswith("Invalid"), too_big.body
    missing_region = raw.v1(ACTION, {})
    assert (missing_region.status, missing_region.code) == (400, "MissingParameter")
    assert json.loads(raw.v1(ACTION, {"RegionId": REGION, "InstanceId.1": instance}).body)["TotalCount"] == 1
