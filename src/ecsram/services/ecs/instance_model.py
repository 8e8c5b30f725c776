"""What an instance is made of beyond its ID, and the rules its creation parameters follow.

Everything an instance has that ecsram does not model as a resource of its own (its MAC address,
serial number, primary network interface, system disk, the CIDR blocks of its VSwitch and VPC)
is derived from the instance's or the VSwitch's ID, so it is the same in every call and in the
metadata service, and a VSwitch always has the same CIDR block (decisions, see docs/fidelity.md).
The values are stored with the instance when it is created.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from ecsram.contract.catalogue import vendor
from ecsram.contract.errors import ApiError

# Alibaba Cloud's organisationally unique identifier: every ECS network interface's MAC starts so.
MAC_PREFIX = "00:16:3e"
_ALPHABET = string.ascii_lowercase + string.digits

DISK_CATEGORIES = ("cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto", "cloud_essd_entry")
DEFAULT_DISK_CATEGORY = "cloud_efficiency"
DEFAULT_DISK_SIZE = 40
MIN_DISK_SIZE = 20
MAX_DISK_SIZE = {"cloud": 500}
MAX_DISK_SIZE_DEFAULT = 2048
CHARGE_TYPES = ("PrePaid", "PostPaid")
MAX_USER_DATA = 32 * 1024

_INSTANCE_TYPE = re.compile(r"ecs\.([a-z][a-z0-9-]{0,31})\.(small|medium|large|xlarge|([1-9][0-9]{0,2})xlarge)")
MAX_SIZE_MULTIPLIER = 128
_HOST_NAME = re.compile(r"[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*")
_PASSWORD_SPECIALS = "()`~!@#$%^&*-_+=|{}[]:;'<>,.?/"
_KEY_PAIR = re.compile(r"[A-Za-z][A-Za-z0-9._:-]{1,127}")
_RESOURCE_GROUP = re.compile(r"rg-[a-z0-9]{1,61}")
_SECURITY_GROUP = re.compile(r"sg-[a-z0-9]{1,61}")


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join(parts).encode()).digest()


def _token(prefix: str, seed: str, length: int = 20) -> str:
    digest = _digest(prefix, seed)
    return prefix + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


# --- identifiers derived from the instance ID ------------------------------------------------


def mac_address(instance_id: str) -> str:
    a, b, c = _digest("mac", instance_id)[:3]
    return f"{MAC_PREFIX}:{a:02x}:{b:02x}:{c:02x}"


def serial_number(instance_id: str) -> str:
    hexed = _digest("serial", instance_id)[:16].hex()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"


def network_interface_id(instance_id: str) -> str:
    return _token("eni-", instance_id)


def system_disk_id(instance_id: str) -> str:
    return _token("d-", instance_id)


def default_resource_group(account_id: str) -> str:
    """The account's default resource group, where instances go without a ``ResourceGroupId``."""
    return _token("rg-acfm", account_id, 13)


# --- addresses --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Network:
    vpc_cidr: str | None
    vswitch_cidr: str | None
    private_ip: str


def vswitch_cidrs(vswitch_id: str) -> tuple[str, str]:
    """(VPC CIDR, VSwitch CIDR) of a VSwitch: a /16 in 172.16.0.0/12 and a /20 in it."""
    a, b = _digest("vswitch", vswitch_id)[:2]
    second = 16 + a % 16
    return f"172.{second}.0.0/16", f"172.{second}.{(b % 16) * 16}.0/20"


def network(instance_id: str, vswitch_id: str | None) -> Network:
    digest = _digest("ip", instance_id)
    if vswitch_id is None:
        return Network(None, None, f"10.{digest[0] % 64}.{digest[1]}.{1 + digest[2] % 254}")
    vpc_cidr, vswitch_cidr = vswitch_cidrs(vswitch_id)
    block = ipaddress.ip_network(vswitch_cidr)
    # The first address and the last four of a VSwitch are reserved (the gateway is .253 of the last /24).
    usable = block.num_addresses - 5
    offset = 1 + int.from_bytes(digest[:4], "big") % usable
    return Network(vpc_cidr, vswitch_cidr, str(block.network_address + offset))


def gateway(vswitch_cidr: str) -> str:
    block = ipaddress.ip_network(vswitch_cidr)
    return str(block.broadcast_address - 2)


def netmask(vswitch_cidr: str) -> str:
    return str(ipaddress.ip_network(vswitch_cidr).netmask)


# --- instance types and images ----------------------------------------------------------------


def instance_shape(action: str, instance_type: str) -> tuple[int, int]:
    """(vCPUs, memory in MiB) of an instance type, from its family and size, e.g.
    ``ecs.g7.large`` -> (2, 8192); an unknown or absurd type is refused as the vendor does."""
    match = _INSTANCE_TYPE.fullmatch(instance_type)
    multiplier = int(match.group(3) or 1) if match else 0
    if match is None or multiplier > MAX_SIZE_MULTIPLIER:
        raise vendor.api_error("ecs", action, "InvalidInstanceType.ValueNotSupported")
    size = match.group(2)
    cpu = {"small": 1, "medium": 2, "large": 2}.get(size, 4 * multiplier)
    family = re.match(r"[a-z]*", match.group(1))
    letters = family.group(0) if family else ""
    per_cpu = next(({"c": 2, "g": 4, "r": 8, "t": 2}[ch] for ch in reversed(letters) if ch in "cgrt"), 4)
    return cpu, cpu * per_cpu * 1024


_DISTRIBUTIONS = {
    "ubuntu": "Ubuntu",
    "centos": "CentOS",
    "debian": "Debian",
    "aliyun": "Alibaba Cloud Linux",
    "alinux": "Alibaba Cloud Linux",
    "rockylinux": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "anolisos": "Anolis OS",
    "opensuse": "openSUSE",
    "suse": "SUSE Linux Enterprise Server",
    "fedora": "Fedora",
    "freebsd": "FreeBSD",
}


def operating_system(image_id: str) -> tuple[str, str]:
    """(OS name, OS type) of an image, read from the public image naming scheme
    (``ubuntu_22_04_x64_20G_alibase_20240101.vhd`` -> ``Ubuntu 22.04 64 bit``, linux)."""
    lowered = image_id.lower()
    if lowered.startswith("win"):
        year = re.search(r"20\d\d", lowered)
        return f"Windows Server {year.group(0) if year else ''}".rstrip() + " 64 bit", "windows"
    match = re.match(r"([a-z]+)_(\d+)(?:_(\d+))?", lowered)
    if match and match.group(1) in _DISTRIBUTIONS:
        version = match.group(2) + (f".{match.group(3)}" if match.group(3) else "")
        return f"{_DISTRIBUTIONS[match.group(1)]} {version} 64 bit", "linux"
    return "Linux 64 bit", "linux"


# --- parameter rules ------------------------------------------------------------------------


def _error(action: str, code: str, fallback: tuple[int, str], detail: str | None = None) -> ApiError:
    return vendor.api_error("ecs", action, code, fallback=fallback, detail=detail)


def user_data_check(action: str) -> Callable[[str], str]:
    """UserData: Base64 as sent, at most 32 KiB of it; stored as sent."""

    def check(raw: str) -> str:
        if len(raw) > MAX_USER_DATA:
            raise _error(
                action, "InvalidUserData.SizeExceeded", (400, 'The specified parameter "UserData" exceeds the size.')
            )
        try:
            base64.b64decode(raw.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeError, ValueError):
            raise _error(
                action, "InvalidUserData.Base64FormatInvalid", (400, "The specified UserData is not valid.")
            ) from None
        return raw

    return check


def decoded_user_data(user_data: str) -> bytes:
    return base64.b64decode(user_data.encode("ascii"))


def host_name_check(action: str) -> Callable[[str], str]:
    """Linux host names: 2..64 characters, letters and digits in parts joined by single dots or hyphens."""

    def check(raw: str) -> str:
        if not 2 <= len(raw) <= 64 or not _HOST_NAME.fullmatch(raw):
            raise _error(action, "InvalidHostName.Malformed", (400, 'The specified parameter "HostName" is not valid.'))
        return raw

    return check


def description_check(action: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if not 2 <= len(raw) <= 256 or raw.startswith(("http://", "https://")) or "\x00" in raw:
            raise _error(
                action, "InvalidDescription.Malformed", (400, 'The specified parameter "Description" is not valid.')
            )
        return raw

    return check


def password_check(action: str) -> Callable[[str], str]:
    """8..30 characters from letters, digits and the vendor's special characters, at least three
    of the four kinds."""

    def check(raw: str) -> str:
        allowed = all(ch in string.ascii_letters or ch in string.digits or ch in _PASSWORD_SPECIALS for ch in raw)
        kinds = sum(
            (
                any(ch in string.ascii_lowercase for ch in raw),
                any(ch in string.ascii_uppercase for ch in raw),
                any(ch in string.digits for ch in raw),
                any(ch in _PASSWORD_SPECIALS for ch in raw),
            )
        )
        if not 8 <= len(raw) <= 30 or not allowed or kinds < 3:
            raise _error(action, "InvalidPassword.Malformed", (400, 'The specified parameter "Password" is not valid.'))
        return raw

    return check


def disk_category_check(action: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if raw not in DISK_CATEGORIES:
            raise _error(
                action,
                "InvalidSystemDiskCategory.ValueNotSupported",
                (400, 'The specified parameter "SystemDisk.Category" is not valid.'),
            )
        return raw

    return check


def disk_size_check(action: str) -> Callable[[str], int]:
    """An integer of GiB; its range is checked with the category (``system_disk``)."""

    def check(raw: str) -> int:
        if not re.fullmatch(r"[0-9]{1,6}", raw):
            raise _error(
                action,
                "InvalidSystemDiskSize.ValueNotSupported",
                (400, "The specified parameter SystemDisk.Size is not valid."),
                detail="The specified parameter SystemDisk.Size is not an integer.",
            )
        return int(raw)

    return check


def system_disk(action: str, category: str | None, size: int | None) -> tuple[str, int]:
    category = category or DEFAULT_DISK_CATEGORY
    size = DEFAULT_DISK_SIZE if size is None else size
    if size < MIN_DISK_SIZE:
        raise _error(
            action,
            "InvalidSystemDiskSize.LessThanMinSize",
            (404, "The specified parameter SystemDisk.Size is less than the min size."),
        )
    if size > MAX_DISK_SIZE.get(category, MAX_DISK_SIZE_DEFAULT):
        raise _error(
            action,
            "InvalidSystemDiskSize.MoreThanMaxSize",
            (404, "The specified parameter SystemDisk.Size is more than the max size."),
        )
    return category, size


def charge_type_check(action: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if raw not in CHARGE_TYPES:
            raise _error(
                action,
                "InvalidInstanceChargeType.NotFound",
                (404, "The InstanceChargeType does not exist in our records."),
            )
        return raw

    return check


def key_pair_check(action: str) -> Callable[[str], str]:
    """There are no key pair resources: a well-formed name stands for itself."""

    def check(raw: str) -> str:
        if not _KEY_PAIR.fullmatch(raw):
            raise _error(
                action,
                "InvalidKeyPairName.NotFound",
                (404, "The specified parameter KeyPairName does not exist in our records."),
            )
        return raw

    return check


def resource_group_check(action: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if not _RESOURCE_GROUP.fullmatch(raw):
            raise _error(
                action,
                "InvalidResourceGroup.NotFound",
                (404, "The ResourceGroup provided does not exist in our records."),
            )
        return raw

    return check


def security_group_error(action: str, security_group_id: str) -> ApiError:
    err = _error(action, "InvalidSecurityGroupId.NotFound", (404, "The specified SecurityGroupId does not exist."))
    return ApiError(err.code, err.status, f"{err.message.rstrip('.')}: {security_group_id[:64]}.")


def is_security_group_id(value: str) -> bool:
    return _SECURITY_GROUP.fullmatch(value) is not None


def security_group_check(action: str) -> Callable[[str], str]:
    """There are no security group resources: a well-formed ID (``sg-`` and lower-case letters
    and digits) stands for itself."""

    def check(raw: str) -> str:
        if not _SECURITY_GROUP.fullmatch(raw):
            raise security_group_error(action, raw)
        return raw

    return check
