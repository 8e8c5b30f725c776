"""DescribeRegions, and the region check every regional operation shares."""

from __future__ import annotations

from functools import cache
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import Checked, String
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation

# English and Chinese display names (LocalName) of the regions in the vendor's endpoint list.
_LOCAL_NAMES: dict[str, tuple[str, str]] = {
    "cn-qingdao": ("China (Qingdao)", "华北1（青岛）"),
    "cn-beijing": ("China (Beijing)", "华北2（北京）"),
    "cn-zhangjiakou": ("China (Zhangjiakou)", "华北3（张家口）"),
    "cn-huhehaote": ("China (Hohhot)", "华北5（呼和浩特）"),
    "cn-wulanchabu": ("China (Ulanqab)", "华北6（乌兰察布）"),
    "cn-hangzhou": ("China (Hangzhou)", "华东1（杭州）"),
    "cn-shanghai": ("China (Shanghai)", "华东2（上海）"),
    "cn-nanjing": ("China (Nanjing - Local Region)", "华东5（南京-本地地域）"),
    "cn-fuzhou": ("China (Fuzhou - Local Region)", "华东6（福州-本地地域）"),
    "cn-shenzhen": ("China (Shenzhen)", "华南1（深圳）"),
    "cn-heyuan": ("China (Heyuan)", "华南2（河源）"),
    "cn-guangzhou": ("China (Guangzhou)", "华南3（广州）"),
    "cn-chengdu": ("China (Chengdu)", "西南1（成都）"),
    "cn-hongkong": ("China (Hong Kong)", "中国香港"),
    "ap-northeast-1": ("Japan (Tokyo)", "日本（东京）"),
    "ap-northeast-2": ("South Korea (Seoul)", "韩国（首尔）"),
    "ap-southeast-1": ("Singapore", "新加坡"),
    "ap-southeast-2": ("Australia (Sydney)", "澳大利亚（悉尼）"),
    "ap-southeast-3": ("Malaysia (Kuala Lumpur)", "马来西亚（吉隆坡）"),
    "ap-southeast-5": ("Indonesia (Jakarta)", "印度尼西亚（雅加达）"),
    "ap-southeast-6": ("Philippines (Manila)", "菲律宾（马尼拉）"),
    "ap-southeast-7": ("Thailand (Bangkok)", "泰国（曼谷）"),
    "us-east-1": ("US (Virginia)", "美国（弗吉尼亚）"),
    "us-west-1": ("US (Silicon Valley)", "美国（硅谷）"),
    "eu-west-1": ("UK (London)", "英国（伦敦）"),
    "eu-central-1": ("Germany (Frankfurt)", "德国（法兰克福）"),
    "ap-south-1": ("India (Mumbai)", "印度（孟买）"),
    "me-east-1": ("UAE (Dubai)", "阿联酋（迪拜）"),
    "me-central-1": ("Saudi Arabia (Riyadh)", "沙特（利雅得）"),
}
_LANGUAGES = ("en-US", "zh-CN", "ja")


def region_not_found() -> ApiError:
    # The vendor publishes this wording (with RunInstances / CreateInstance) for every region check.
    return vendor.api_error("ecs", "CreateInstance", "InvalidRegionId.NotFound")


def _check_region(raw: str) -> str:
    if raw not in vendor.region_ids():
        raise region_not_found()
    return raw


def region_param(required: bool = True) -> Checked:
    """``RegionId`` of a regional operation; an unknown region is a 404 reported after format checks."""
    return Checked("RegionId", required=required, late=True, check=_check_region)


def _local_name(region_id: str, language: str) -> str:
    names = _LOCAL_NAMES.get(region_id)
    if names is None:
        return region_id
    return names[1] if language == "zh-CN" else names[0]


def _check_language(raw: str) -> str:
    if raw not in _LANGUAGES:
        raise vendor.api_error("ecs", "DescribeRegions", "InvalidAcceptLanguage.NotFound")
    return raw


def _check_charge_type(raw: str) -> str:
    if raw not in ("PrePaid", "PostPaid"):
        raise vendor.api_error("ecs", "DescribeRegions", "Invalid.InstanceChargeType")
    return raw


def _check_resource_type(raw: str) -> str:
    if raw not in ("instance", "disk", "reservedinstance", "scu"):
        raise vendor.api_error("ecs", "DescribeRegions", "InvalidResourceType.NotFound")
    return raw


@cache
def _region_list(language: str) -> tuple[dict[str, str], ...]:
    return tuple(
        {
            "RegionId": r["RegionId"],
            "RegionEndpoint": r["RegionEndpoint"],
            "LocalName": _local_name(r["RegionId"], language),
            "Status": "available",
        }
        for r in vendor.regions()
    )


def describe_regions(call: Call) -> dict[str, Any]:
    return {"Regions": {"Region": _region_list(call.args["AcceptLanguage"])}}


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ecs",
        "DescribeRegions",
        describe_regions,
        params=(
            Checked("AcceptLanguage", default="en-US", check=_check_language),
            Checked("InstanceChargeType", check=_check_charge_type),
            Checked("ResourceType", check=_check_resource_type),
            String("RegionId"),
        ),
    ),
)
