"""Trust policies whose principal lists are empty (``"RAM": []``, ``"Service": []``), as Terraform's
alicloud_ram_role builds them: RAM accepts them on CreateRole and UpdateRole, and an empty list
trusts no one, for AttachInstanceRamRole / RunInstances (ECS trust) and for STS AssumeRole."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.conftest import Sdk
from tests.support.ecs import attach, create_role, run_instances
from tests.support.metadata import CREDENTIALS, Metadata


def _trust(ram: list[str], service: list[str]) -> str:
    principal = {"RAM": ram, "Service": service}
    return json.dumps(
        {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": principal}], "Version": "1"}
    )


def _name() -> str:
    return f"role-{uuid.uuid4().hex[:8]}"


def _ecs_may_use(sdk: Sdk, role: str) -> bool:
    ids = run_instances(sdk, 1)
    try:
        attach(sdk, role, ids)
    except ClientException as exc:
        assert (exc.code, exc.status_code) == ("InvalidRamRole.NotEcsRole", 404), exc
        return False
    return True


def _assumable(sdk: Sdk, role: str) -> bool:
    request = sts_models.AssumeRoleRequest(role_arn=f"acs:ram::{sdk.account_id}:role/{role}", role_session_name="s1")
    try:
        sdk.tea_sts().assume_role(request)
    except ClientException as exc:
        assert (exc.code, exc.status_code) == ("NoPermission", 403), exc
        return False
    return True


def _root(sdk: Sdk) -> list[str]:
    return [f"acs:ram::{sdk.account_id}:root"]


@pytest.mark.parametrize(
    ("ram", "service", "ecs", "account"),
    [
        ("none", "none", False, False),
        ("none", "ecs", True, False),
        ("root", "none", False, True),
        ("root", "ecs", True, True),
    ],
)
def test_create_role_with_empty_lists(sdk: Sdk, ram: str, service: str, ecs: bool, account: bool) -> None:
    name = _name()
    trust = _trust(_root(sdk) if ram == "root" else [], ["ecs.aliyuncs.com"] if service == "ecs" else [])
    created: dict[str, Any] = create_role(sdk, name, trust=trust)["Role"]
    assert created["AssumeRolePolicyDocument"] == trust
    assert _ecs_may_use(sdk, name) is ecs
    assert _assumable(sdk, name) is account


def test_update_role_to_and_from_empty_lists(sdk: Sdk) -> None:
    name = _name()
    create_role(sdk, name, trust=_trust(_root(sdk), []))
    assert _assumable(sdk, name) and not _ecs_may_use(sdk, name)
    request = ram_models.UpdateRoleRequest(
        role_name=name, new_assume_role_policy_document=_trust([], ["ecs.aliyuncs.com"])
    )
    sdk.tea_ram().update_role(request)
    assert _ecs_may_use(sdk, name) and not _assumable(sdk, name)
    request = ram_models.UpdateRoleRequest(role_name=name, new_assume_role_policy_document=_trust([], []))
    updated = sdk.tea_ram().update_role(request).body.to_map()["Role"]
    assert updated["AssumeRolePolicyDocument"] == _trust([], [])
    assert not _ecs_may_use(sdk, name) and not _assumable(sdk, name)


def test_empty_strings_are_still_refused(sdk: Sdk) -> None:
    with pytest.raises(ClientException) as caught:
        create_role(sdk, _name(), trust=_trust([""], []))
    assert (caught.value.code, caught.value.status_code) == ("MalformedPolicyDocument", 400)


def test_metadata_service_stops_serving_a_role_whose_service_list_empties(sdk: Sdk) -> None:
    name = _name()
    create_role(sdk, name, trust=_trust([], ["ecs.aliyuncs.com"]))
    (instance,) = run_instances(sdk, 1)
    attach(sdk, name, [instance])
    metadata = Metadata(sdk.endpoint, instance)
    assert metadata.get(CREDENTIALS + name).status == 200
    sdk.tea_ram().update_role(
        ram_models.UpdateRoleRequest(role_name=name, new_assume_role_policy_document=_trust([], []))
    )
    assert metadata.get(CREDENTIALS + name).status == 403
