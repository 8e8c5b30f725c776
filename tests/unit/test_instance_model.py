"""The rules of the instance model: shapes of instance types, derived identifiers and addresses,
creation parameter checks."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsram.contract.errors import ApiError
from ecsram.services.ecs import instance_model as model

INSTANCE_IDS = st.from_regex(r"i-[a-z0-9]{20}", fullmatch=True)
VSWITCH_IDS = st.text(min_size=1, max_size=64)


@pytest.mark.parametrize(
    ("instance_type", "shape"),
    [
        ("ecs.g7.large", (2, 8192)),
        ("ecs.c7.xlarge", (4, 8192)),
        ("ecs.r7.8xlarge", (32, 262144)),
        ("ecs.t6-c1m1.small", (1, 2048)),
        ("ecs.hfc7.medium", (2, 4096)),
        ("ecs.ebmg7.128xlarge", (512, 2097152)),
        ("ecs.sn1ne.large", (2, 8192)),
    ],
)
def test_instance_shapes(instance_type: str, shape: tuple[int, int]) -> None:
    assert model.instance_shape("RunInstances", instance_type) == shape


@pytest.mark.parametrize(
    "instance_type",
    ["ecs.g7.99999999999999999999xlarge", "ecs.g7.129xlarge", "ecs.g7.01xlarge", "ecs.G7.large", "ecs.g7", "", "t"],
)
def test_absurd_instance_types(instance_type: str) -> None:
    for action, status in (("RunInstances", 403), ("CreateInstance", 404)):
        with pytest.raises(ApiError) as caught:
            model.instance_shape(action, instance_type)
        assert (caught.value.code, caught.value.status) == ("InvalidInstanceType.ValueNotSupported", status)


@given(INSTANCE_IDS)
def test_identifiers_are_derived_and_well_formed(instance_id: str) -> None:
    assert re.fullmatch(r"00:16:3e(:[0-9a-f]{2}){3}", model.mac_address(instance_id))
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", model.serial_number(instance_id))
    assert re.fullmatch(r"eni-[a-z0-9]{20}", model.network_interface_id(instance_id))
    assert re.fullmatch(r"d-[a-z0-9]{20}", model.system_disk_id(instance_id))
    assert model.mac_address(instance_id) == model.mac_address(instance_id)


@given(INSTANCE_IDS, VSWITCH_IDS)
def test_addresses_lie_in_their_blocks(instance_id: str, vswitch_id: str) -> None:
    net = model.network(instance_id, vswitch_id)
    assert net.vpc_cidr is not None and net.vswitch_cidr is not None
    vpc, vswitch = ipaddress.ip_network(net.vpc_cidr), ipaddress.ip_network(net.vswitch_cidr)
    assert vswitch.subnet_of(vpc) and vpc.subnet_of(ipaddress.ip_network("172.16.0.0/12"))  # type: ignore[arg-type]
    address = ipaddress.ip_address(net.private_ip)
    assert address in vswitch and address != vswitch.network_address
    assert address < ipaddress.ip_address(model.gateway(net.vswitch_cidr))
    assert model.netmask(net.vswitch_cidr) == "255.255.240.0"
    assert model.network(instance_id, vswitch_id) == net
    classic = model.network(instance_id, None)
    assert classic.vpc_cidr is None and ipaddress.ip_address(classic.private_ip) in ipaddress.ip_network("10.0.0.0/8")


@pytest.mark.parametrize(
    ("image_id", "expected"),
    [
        ("ubuntu_22_04_x64_20G_alibase_20240101.vhd", ("Ubuntu 22.04 64 bit", "linux")),
        ("centos_7_9_x64_20G_alibase_20240628.vhd", ("CentOS 7.9 64 bit", "linux")),
        ("aliyun_3_x64_20G_alibase_20240819.vhd", ("Alibaba Cloud Linux 3 64 bit", "linux")),
        ("win2022_21H2_x64_dtc_en-us_40G_alibase_20240716.vhd", ("Windows Server 2022 64 bit", "windows")),
        ("m-bp1custom", ("Linux 64 bit", "linux")),
        ("img", ("Linux 64 bit", "linux")),
    ],
)
def test_operating_system_from_the_image(image_id: str, expected: tuple[str, str]) -> None:
    assert model.operating_system(image_id) == expected


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Ecsram-Pass1", True),
        ("abcDEF12", True),
        ("abc!def1", True),
        ("abcdefgh", False),
        ("ABCdefgh", False),
        ("Ab1!", False),
        ("Ab1!" * 8, False),
        ("Abc12345 ", False),
        ("Abc12345é", False),
    ],
)
def test_password_rules(password: str, ok: bool) -> None:
    check = model.password_check("RunInstances")
    if ok:
        assert check(password) == password
    else:
        with pytest.raises(ApiError) as caught:
            check(password)
        assert caught.value.code == "InvalidPassword.Malformed"
        assert password not in caught.value.message


@pytest.mark.parametrize(
    ("host_name", "ok"),
    [("web-1", True), ("a.b.c", True), ("a" * 64, True), ("a", False), ("-a", False), ("a-", False), ("a--b", False)],
)
def test_host_name_rules(host_name: str, ok: bool) -> None:
    check = model.host_name_check("RunInstances")
    if ok:
        assert check(host_name) == host_name
    else:
        with pytest.raises(ApiError):
            check(host_name)


def test_system_disk_ranges() -> None:
    assert model.system_disk("RunInstances", None, None) == ("cloud_efficiency", 40)
    assert model.system_disk("RunInstances", "cloud_essd", 2048) == ("cloud_essd", 2048)
    for category, size, code in (
        ("cloud", 501, "InvalidSystemDiskSize.MoreThanMaxSize"),
        ("cloud_essd", 19, "InvalidSystemDiskSize.LessThanMinSize"),
    ):
        with pytest.raises(ApiError) as caught:
            model.system_disk("CreateInstance", category, size)
        assert caught.value.code == code
