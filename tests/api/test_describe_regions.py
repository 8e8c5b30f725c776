"""DescribeRegions from every official client, JSON and XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest

from ecsram.contract.catalogue import vendor
from ecsram.testing import clients
from tests.conftest import Sdk

EXPECTED_REGIONS = {r["RegionId"]: r["RegionEndpoint"] for r in vendor.regions()}


def _assert_regions(regions: list[dict[str, Any]]) -> None:
    assert {r["RegionId"]: r["RegionEndpoint"] for r in regions} == EXPECTED_REGIONS
    assert all(r["Status"] == "available" and r["LocalName"] for r in regions)


def test_v1_core_json(sdk: Sdk) -> None:
    body = sdk.v1_call(DescribeRegionsRequest())
    _assert_regions(body["Regions"]["Region"])
    assert len(body["RequestId"]) == 36


def test_v1_core_xml(sdk: Sdk) -> None:
    request = clients.prepare_v1(DescribeRegionsRequest(), sdk.endpoint)
    request.set_accept_format("XML")
    root = ET.fromstring(sdk.v1().do_action(request))
    assert root.tag == "DescribeRegionsResponse"
    regions = [{child.tag: child.text for child in region} for region in root.iter("Region")]
    _assert_regions(regions)
    assert len(root.findtext("RequestId") or "") == 36


@pytest.mark.parametrize("signature_algorithm", [None, "v2"], ids=["v3-signature", "v1-signature"])
def test_tea_python(sdk: Sdk, signature_algorithm: str | None) -> None:
    client = sdk.tea_ecs(signature_algorithm=signature_algorithm)
    response = client.describe_regions(ecs_models.DescribeRegionsRequest(accept_language="zh-CN"))
    assert response.status_code == 200
    regions = response.body.to_map()["Regions"]["Region"]
    _assert_regions(regions)
    assert {r["RegionId"]: r["LocalName"] for r in regions}["cn-hangzhou"] == "华东1（杭州）"
    assert response.headers["x-acs-request-id"] == response.body.request_id


@pytest.mark.node
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_node_pop_core(sdk: Sdk, node: Callable[..., Any], method: str) -> None:
    report = node(
        {
            "client": "pop",
            "endpoint": sdk.endpoint,
            "accessKeyId": sdk.key.access_key_id,
            "accessKeySecret": sdk.key.secret,
            "action": "DescribeRegions",
            "params": {"RegionId": "cn-hangzhou"},
            "method": method,
        }
    )
    assert report["ok"], report
    _assert_regions(report["body"]["Regions"]["Region"])


@pytest.mark.node
def test_node_tea(sdk: Sdk, node: Callable[..., Any]) -> None:
    report = node(
        {
            "client": "tea-ecs",
            "endpoint": sdk.endpoint,
            "accessKeyId": sdk.key.access_key_id,
            "accessKeySecret": sdk.key.secret,
            "action": "DescribeRegions",
            "params": {"AcceptLanguage": "en-US"},
        }
    )
    assert report["ok"], report
    assert report["status"] == 200
    _assert_regions(report["body"]["Regions"]["Region"])


def test_raw_xml_with_lower_case_format(sdk: Sdk) -> None:
    response = sdk.raw().v1("DescribeRegions", {"Format": "xml"})
    assert response.status == 200
    assert response.headers["content-type"] == "text/xml;charset=utf-8"
    assert ET.fromstring(response.body).tag == "DescribeRegionsResponse"


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"AcceptLanguage": "fr-FR"}, "InvalidAcceptLanguage.NotFound", 404),
        ({"InstanceChargeType": "Monthly"}, "Invalid.InstanceChargeType", 403),
        ({"ResourceType": "bucket"}, "InvalidResourceType.NotFound", 404),
    ],
)
def test_bad_filters(sdk: Sdk, params: dict[str, str], code: str, status: int) -> None:
    response = sdk.raw().v1("DescribeRegions", params)
    assert (response.status, response.code) == (status, code)
    assert vendor.vendor_error("ecs", "DescribeRegions", code) == (status, response.json["Message"])


def test_json_error_and_xml_error_agree(sdk: Sdk) -> None:
    json_error = sdk.raw().v1("DescribeRegions", {"AcceptLanguage": "xx"})
    xml_error = sdk.raw().v1("DescribeRegions", {"AcceptLanguage": "xx", "Format": "XML"})
    root = ET.fromstring(xml_error.body)
    assert root.tag == "Error"
    assert root.findtext("Code") == json_error.code
    assert xml_error.status == json_error.status
    assert json.loads(json_error.body)["RequestId"] == json_error.headers["x-acs-request-id"]
