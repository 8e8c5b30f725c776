"""The metadata service as an instance sees it: listings, the items cloud-init, Ansible and scripts
read, under /latest/ and dated versions, consistent with what the API says of the instance."""

from __future__ import annotations

import base64
import ipaddress
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.ecs import REGION, attach, create_role, run_instances
from tests.support.metadata import METADATA, Metadata, proxy_url

USER_DATA = b"#cloud-config\nhostname: from-user-data\n"
META_ITEMS = [
    "dns-conf/",
    "hostname",
    "image-id",
    "instance/",
    "instance-id",
    "mac",
    "network/",
    "network-type",
    "owner-account-id",
    "private-ipv4",
    "region-id",
    "serial-number",
    "vpc-cidr-block",
    "vpc-id",
    "vswitch-cidr-block",
    "vswitch-id",
    "zone-id",
]


def _instance(sdk: Sdk, **extra: Any) -> tuple[str, dict[str, Any]]:
    (instance_id,) = run_instances(sdk, 1, **extra)
    request = ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=json.dumps([instance_id]))
    (described,) = sdk.tea_ecs().describe_instances(request).body.to_map()["Instances"]["Instance"]
    return instance_id, described


@pytest.fixture
def vm(sdk: Sdk) -> dict[str, Any]:
    instance_id, described = _instance(sdk, user_data=base64.b64encode(USER_DATA).decode(), host_name="vm-1")
    return {"id": instance_id, "described": described, "metadata": Metadata(sdk.endpoint, instance_id)}


def test_listings(vm: dict[str, Any]) -> None:
    metadata: Metadata = vm["metadata"]
    for path in ("/latest/meta-data/", "/latest/meta-data", "/2016-01-01/meta-data/"):
        answer = metadata.get(path)
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain")
        assert answer.text.split("\n") == META_ITEMS
    assert metadata.get("/latest/").text.split("\n") == ["dynamic/", "meta-data/", "user-data"]
    assert metadata.get("/latest/meta-data/instance/").text == "instance-type"
    assert metadata.get("/latest/meta-data/ram/").status == 404  # no role: no ram/ directory
    assert metadata.get("/latest/meta-data/dns-conf/").text == "nameservers"
    assert metadata.get("/latest/dynamic/").text == "instance-identity/"
    assert metadata.get("/latest/dynamic/instance-identity/").text == "document"


def test_items_agree_with_the_api(sdk: Sdk, vm: dict[str, Any]) -> None:
    metadata: Metadata = vm["metadata"]
    described = vm["described"]
    (interface,) = described["NetworkInterfaces"]["NetworkInterface"]
    private_ip = described["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
    expected = {
        "instance-id": vm["id"],
        "region-id": REGION,
        "zone-id": described["ZoneId"],
        "hostname": "vm-1",
        "private-ipv4": private_ip,
        "mac": interface["MacAddress"],
        "network-type": "vpc",
        "vpc-id": described["VpcAttributes"]["VpcId"],
        "vswitch-id": described["VpcAttributes"]["VSwitchId"],
        "instance/instance-type": described["InstanceType"],
        "image-id": described["ImageId"],
        "owner-account-id": sdk.account_id,
        "serial-number": described["SerialNumber"],
        "dns-conf/nameservers": "100.100.2.136\n100.100.2.138",
    }
    for version in ("latest", "2016-01-01"):
        for item, value in expected.items():
            answer = metadata.get(f"/{version}/meta-data/{item}")
            assert (answer.status, answer.text) == (200, value), item
    vpc = ipaddress.ip_network(metadata.get("/latest/meta-data/vpc-cidr-block").text)
    vswitch = ipaddress.ip_network(metadata.get("/latest/meta-data/vswitch-cidr-block").text)
    assert vswitch.subnet_of(vpc) and ipaddress.ip_address(private_ip) in vswitch  # type: ignore[arg-type]
    assert metadata.get("/latest/meta-data/eipv4").status == 404  # no EIP
    assert metadata.get("/latest/meta-data/instance-id/").status == 404  # an item is not a directory


def test_the_same_vswitch_has_the_same_blocks(sdk: Sdk, vm: dict[str, Any]) -> None:
    other_id, _ = _instance(sdk)
    other = Metadata(sdk.endpoint, other_id)
    for item in ("vpc-cidr-block", "vswitch-cidr-block", "vswitch-id", "vpc-id"):
        assert other.get(f"/latest/meta-data/{item}").text == vm["metadata"].get(f"/latest/meta-data/{item}").text


def test_network_interfaces_by_mac(sdk: Sdk, vm: dict[str, Any]) -> None:
    metadata: Metadata = vm["metadata"]
    mac = metadata.get("/latest/meta-data/mac").text
    assert metadata.get("/latest/meta-data/network/").text == "interfaces/"
    assert metadata.get("/latest/meta-data/network/interfaces/macs/").text == f"{mac}/"
    base = f"/latest/meta-data/network/interfaces/macs/{mac}/"
    assert metadata.get(base).text.split("\n") == [
        "gateway",
        "netmask",
        "network-interface-id",
        "primary-ip-address",
        "private-ipv4s",
        "vpc-cidr-block",
        "vpc-id",
        "vswitch-cidr-block",
        "vswitch-id",
    ]
    request = ecs_models.DescribeNetworkInterfacesRequest(region_id=REGION, instance_id=vm["id"])
    (eni,) = (
        sdk.tea_ecs().describe_network_interfaces(request).body.to_map()["NetworkInterfaceSets"]["NetworkInterfaceSet"]
    )
    assert metadata.get(base + "network-interface-id").text == eni["NetworkInterfaceId"]
    assert metadata.get(base + "primary-ip-address").text == eni["PrivateIpAddress"]
    assert json.loads(metadata.get(base + "private-ipv4s").text) == [eni["PrivateIpAddress"]]
    vswitch = ipaddress.ip_network(metadata.get(base + "vswitch-cidr-block").text)
    assert ipaddress.ip_address(metadata.get(base + "gateway").text) in vswitch
    assert metadata.get(base + "netmask").text == str(vswitch.netmask)
    assert metadata.get("/latest/meta-data/network/interfaces/macs/00:00:00:00:00:00/").status == 404


def test_user_data_and_identity_document(sdk: Sdk, vm: dict[str, Any]) -> None:
    metadata: Metadata = vm["metadata"]
    for version in ("latest", "2016-01-01"):
        answer = metadata.get(f"/{version}/user-data")
        assert (answer.status, answer.body) == (200, USER_DATA)
    answer = metadata.get("/latest/dynamic/instance-identity/document")
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/json")
    document = json.loads(answer.body)
    assert document == {
        "instance-id": vm["id"],
        "region-id": REGION,
        "zone-id": vm["described"]["ZoneId"],
        "owner-account-id": sdk.account_id,
        "instance-type": vm["described"]["InstanceType"],
        "image-id": vm["described"]["ImageId"],
        "private-ipv4": metadata.get("/latest/meta-data/private-ipv4").text,
        "serial-number": vm["described"]["SerialNumber"],
        "mac": metadata.get("/latest/meta-data/mac").text,
    }
    without, _ = _instance(sdk)
    assert Metadata(sdk.endpoint, without).get("/latest/user-data").status == 404
    assert Metadata(sdk.endpoint, without).get("/latest/").text.split("\n") == ["dynamic/", "meta-data/"]


def test_classic_instances_have_no_vpc_items(sdk: Sdk) -> None:
    instance_id, _ = _instance(sdk, vpc=False)
    metadata = Metadata(sdk.endpoint, instance_id)
    assert metadata.get("/latest/meta-data/network-type").text == "classic"
    for item in ("vpc-id", "vpc-cidr-block", "vswitch-id", "vswitch-cidr-block"):
        assert metadata.get(f"/latest/meta-data/{item}").status == 404
        assert item not in metadata.get("/latest/meta-data/").text.split("\n")
    assert metadata.get("/latest/meta-data/mac").status == 200


def test_capital_r_role_path(sdk: Sdk) -> None:
    role = f"ansible-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    instance_id, _ = _instance(sdk)
    attach(sdk, role, [instance_id])
    metadata = Metadata(sdk.endpoint, instance_id)
    assert "ram/" in metadata.get("/latest/meta-data/").text.split("\n")
    assert metadata.get("/latest/meta-data/ram/").text == "security-credentials/"
    for prefix in ("/latest", "/2016-01-01"):
        for ram in ("ram", "Ram"):
            assert metadata.get(f"{prefix}/meta-data/{ram}/security-credentials/").text == role
            document = json.loads(metadata.get(f"{prefix}/meta-data/{ram}/security-credentials/{role}").body)
            assert document["Code"] == "Success" and document["AccessKeyId"].startswith("STS.")


def test_versioned_token_path(vm: dict[str, Any]) -> None:
    metadata: Metadata = vm["metadata"]
    token = metadata.request("PUT", "/2016-01-01/api/token", {"X-aliyun-ecs-metadata-token-ttl-seconds": "60"})
    assert token.status == 200
    assert metadata.get("/2016-01-01/meta-data/instance-id", token.text).text == vm["id"]


def test_hardened_mode_applies_to_every_item(sdk: Sdk, vm: dict[str, Any]) -> None:
    request = ecs_models.ModifyInstanceMetadataOptionsRequest(
        region_id=REGION, instance_id=vm["id"], http_endpoint="enabled", http_tokens="required"
    )
    sdk.tea_ecs().modify_instance_metadata_options(request)
    metadata: Metadata = vm["metadata"]
    mac = vm["described"]["NetworkInterfaces"]["NetworkInterface"][0]["MacAddress"]
    paths = [
        "/latest/",
        "/latest/meta-data/",
        *(f"/latest/meta-data/{item}" for item in META_ITEMS),
        "/2016-01-01/meta-data/instance-id",
        "/latest/meta-data/Ram/security-credentials/",
        f"/latest/meta-data/network/interfaces/macs/{mac}/vpc-cidr-block",
        "/latest/meta-data/dns-conf/nameservers",
        "/latest/user-data",
        "/latest/dynamic/instance-identity/document",
        "/latest/meta-data/eipv4",
    ]
    token = metadata.token(60).text
    for path in paths:
        assert metadata.get(path).status == 403, path
        assert metadata.get(path, "not-a-token").status == 401, path
        assert metadata.get(path, token).status in (200, 404), path
    assert metadata.get("/latest/user-data", token).body == USER_DATA


# --- as real clients reach it -----------------------------------------------------------------


def _crawl(get: Callable[[str], tuple[int, bytes]], path: str) -> dict[str, Any]:
    """Walk a listing the way cloud-init's metadata materializer does: a line ending in "/" is a
    directory to list, any other line an item to read."""
    status, body = get(path)
    assert status == 200, path
    found: dict[str, Any] = {}
    for line in body.decode().split("\n"):
        if line.endswith("/"):
            found[line[:-1]] = _crawl(get, path + line)
        else:
            item_status, item = get(path + line)
            assert item_status == 200, path + line
            found[line] = item.decode()
    return found


def _urllib_via_proxy(endpoint: str, instance_id: str) -> Callable[[str], tuple[int, bytes]]:
    # What cloud-init's url_helper does (requests, through HTTP_PROXY), with the standard library.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url(endpoint, instance_id, "x")}))

    def get(path: str) -> tuple[int, bytes]:
        try:
            with opener.open(METADATA + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    return get


def test_cloud_init_style_crawl_through_a_proxy(sdk: Sdk, vm: dict[str, Any]) -> None:
    get = _urllib_via_proxy(sdk.endpoint, vm["id"])
    crawled = _crawl(get, "/2016-01-01/meta-data/")
    assert crawled["instance-id"] == vm["id"] and crawled["hostname"] == "vm-1"
    assert crawled["instance"]["instance-type"] == vm["described"]["InstanceType"]
    assert "ram" not in crawled  # no role
    macs = crawled["network"]["interfaces"]["macs"]
    assert list(macs) == [crawled["mac"]] and macs[crawled["mac"]]["primary-ip-address"] == crawled["private-ipv4"]
    assert get("/2016-01-01/user-data") == (200, USER_DATA)
    status, document = get("/2016-01-01/dynamic/instance-identity/document")
    assert status == 200 and json.loads(document)["instance-id"] == vm["id"]


def test_items_on_a_dedicated_listener(
    sdk: Sdk, vm: dict[str, Any], server_factory: Callable[..., ServerProcess]
) -> None:
    listener = server_factory(sdk.database_url, extra_args=("--metadata-listen", f"{vm['id']}@127.0.0.1:0"))
    (metadata_host,) = listener.metadata_listeners

    def get(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://{metadata_host}{path}", timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    crawled = _crawl(get, "/latest/meta-data/")
    assert crawled["instance-id"] == vm["id"] and crawled["serial-number"] == vm["described"]["SerialNumber"]
    assert get("/latest/user-data") == (200, USER_DATA)
    assert get("/latest/meta-data/eipv4")[0] == 404
    assert get("/2016-01-01/meta-data/region-id") == (200, REGION.encode())


def test_metadata_follows_modify_instance_attribute(sdk: Sdk, vm: dict[str, Any]) -> None:
    ecs = sdk.tea_ecs()
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=vm["id"]))
    changed = b"#!/bin/sh\necho changed\n"
    request = ecs_models.ModifyInstanceAttributeRequest(
        instance_id=vm["id"], host_name="renamed-host", user_data=base64.b64encode(changed).decode()
    )
    ecs.modify_instance_attribute(request)
    ecs.start_instance(ecs_models.StartInstanceRequest(instance_id=vm["id"]))
    metadata: Metadata = vm["metadata"]
    assert metadata.get("/latest/meta-data/hostname").text == "renamed-host"
    assert metadata.get("/latest/user-data").body == changed
