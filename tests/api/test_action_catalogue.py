"""Every action of the vendor's ECS, RAM, STS (and ActionTrail) catalogues, one signed request each: the ones
ecsram does not emulate answer UnsupportedOperation (400, naming the action), never a 404, which
Terraform would read as "the resource is gone"; only names the vendor does not have are
InvalidAction.NotFound."""

from __future__ import annotations

import pytest

from ecsram.contract.catalogue.vendor import PRODUCTS, api_names
from ecsram.services import all_operations
from tests.conftest import Sdk
from tests.support.raw import ECS, RAM, STS

VENDOR = {"ecs": ECS, "ram": RAM, "sts": STS, "actiontrail": "2020-07-06"}
EMULATED = {(op.version, op.action) for op in all_operations()}


def test_the_catalogue_is_the_whole_vendor_api() -> None:
    assert {product: len(api_names(product)) for product in VENDOR} == {
        "ecs": 370,
        "ram": 66,
        "sts": 4,
        "actiontrail": 1,
    }
    assert {PRODUCTS[product][1] for product in VENDOR} == set(VENDOR.values())
    # Every emulated vendor operation is in the catalogue (ecsram's own version aside).
    own = PRODUCTS["ecsram"][1]
    catalogued = {(VENDOR[p], action) for p in VENDOR for action in api_names(p)}
    assert {key for key in EMULATED if key[0] != own} <= catalogued


@pytest.mark.parametrize("product", sorted(VENDOR))
def test_every_vendor_action_is_emulated_or_unsupported(sdk: Sdk, product: str) -> None:
    version = VENDOR[product]
    client = sdk.raw()
    unsupported = emulated = 0
    for action in sorted(api_names(product)):
        response = client.v1(action, version=version)
        assert response.headers.get("x-acs-request-id"), action
        if (version, action) in EMULATED:
            emulated += 1
            # Called without its parameters: whatever it answers, it knows the action.
            assert response.status < 500, (action, response.body)
            assert response.code not in ("UnsupportedOperation", "InvalidAction.NotFound"), (action, response.body)
            assert response.status != 404, (action, response.body)
        else:
            unsupported += 1
            assert (response.status, response.code) == (400, "UnsupportedOperation"), (action, response.body)
            assert f"The operation {action} (version {version})" in response.json["Message"]
    assert emulated == len({a for v, a in EMULATED if v == version})
    assert unsupported + emulated == len(api_names(product))


@pytest.mark.parametrize(
    ("action", "version"),
    [
        ("DescribeInstance", ECS),  # no such action: close to DescribeInstances
        ("describeinstances", ECS),  # action names are case-sensitive
        ("AttachInstanceRamRoles", ECS),
        ("CreateRole", ECS),  # a RAM action under the ECS version
        ("DescribeInstances", RAM),  # an ECS action under the RAM version
        ("GetCallerIdentity", ECS),
        ("AssumeRoleWithOIDC2", STS),
    ],
)
def test_only_names_the_vendor_does_not_have_are_not_found(sdk: Sdk, action: str, version: str) -> None:
    response = sdk.raw().v1(action, version=version)
    assert (response.status, response.code) == (404, "InvalidAction.NotFound"), response.body


def test_unsupported_with_v3_signatures_too(sdk: Sdk) -> None:
    response = sdk.raw().v3("CreateSecurityGroup", {"RegionId": "cn-hangzhou"})
    assert (response.status, response.code) == (400, "UnsupportedOperation")
    assert "CreateSecurityGroup" in response.json["Message"]
