"""Rendering: JSON and XML shapes, request IDs, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import orjson

from ecsram.contract.errors import ApiError
from ecsram.gateway import render


def test_request_id_is_an_upper_case_uuid() -> None:
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", render.new_request_id())


def test_success_json_has_request_id_and_no_code() -> None:
    response = render.success("RID", "DescribeRegions", {"Regions": {"Region": []}}, xml=False)
    body = orjson.loads(response.body)
    assert body == {"RequestId": "RID", "Regions": {"Region": []}}
    assert response.content_type == b"application/json;charset=utf-8"
    assert (b"x-acs-request-id", b"RID") in response.asgi_headers()


def test_xml_lists_repeat_their_element_and_values_are_escaped() -> None:
    document = {"Items": {"Item": [{"Name": "a<b&c"}, {"Name": "d\x01e"}]}, "Ok": True, "Count": 2}
    root = ET.fromstring(render.to_xml("ThingResponse", document))
    assert root.tag == "ThingResponse"
    assert [item.findtext("Name") for item in root.iter("Item")] == ["a<b&c", "d\ufffde"]
    assert root.findtext("Ok") == "true"
    assert root.findtext("Count") == "2"


def test_error_body_fields_and_statuses() -> None:
    err = ApiError("Forbidden.RAM", 403, "no", access_denied_detail={"AuthAction": "ecs:X"})
    response = render.error("RID", err, product="ecs", xml=False)
    body = orjson.loads(response.body)
    assert response.status == 403
    assert body["Code"] == "Forbidden.RAM"
    assert body["HostId"] == "ecs.aliyuncs.com"
    assert "q=Forbidden.RAM" in body["Recommend"]
    assert body["AccessDeniedDetail"] == {"AuthAction": "ecs:X"}


def test_xml_error_uses_the_exact_content_type_tea_requires() -> None:
    response = render.error("RID", ApiError("X", 400, "m"), product="ecs", xml=True)
    assert response.content_type == b"text/xml;charset=utf-8"
    assert ET.fromstring(response.body).tag == "Error"
