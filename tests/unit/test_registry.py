"""The registry: (Action, Version) -> Operation, or the error the cloud would give."""

from __future__ import annotations

from typing import Any

import pytest

from ecsram.contract.call import Call
from ecsram.contract.catalogue.vendor import api_names
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, Registry, operation

ECS = "2014-05-26"
RAM = "2015-05-01"


def _handler(_call: Call) -> dict[str, Any]:
    return {}


def _resolve_error(registry: Registry, action: str | None, version: str | None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        registry.resolve(action, version)
    return caught.value


@pytest.fixture
def registry() -> Registry:
    return Registry([operation("ecs", "DescribeRegions", _handler), operation("ram", "GetUser", _handler)])


def test_two_operations_with_the_same_version_and_action_are_refused() -> None:
    with pytest.raises(ValueError, match="DescribeRegions"):
        Registry([operation("ecs", "DescribeRegions", _handler), operation("ecs", "DescribeRegions", _handler)])


def test_the_same_action_name_in_two_products_is_two_operations() -> None:
    first = operation("ecs", "Probe", _handler)
    second = operation("ram", "Probe", _handler)
    registry = Registry([first, second])
    assert registry.resolve("Probe", ECS) is first
    assert registry.resolve("Probe", RAM) is second


def test_resolves_an_emulated_action(registry: Registry) -> None:
    found = registry.resolve("DescribeRegions", ECS)
    assert isinstance(found, Operation)
    assert (found.product, found.action, found.version) == ("ecs", "DescribeRegions", ECS)
    assert registry.resolve("GetUser", RAM).product == "ram"


def test_an_emulated_action_under_another_products_version_is_not_found_there(registry: Registry) -> None:
    # GetUser is RAM's; ECS has no such API at all.
    assert "GetUser" not in api_names("ecs")
    err = _resolve_error(registry, "GetUser", ECS)
    assert (err.code, err.status) == ("InvalidAction.NotFound", 404)


def test_a_real_action_that_is_not_emulated_is_unsupported_operation(registry: Registry) -> None:
    assert "RunInstances" in api_names("ecs")
    err = _resolve_error(registry, "RunInstances", ECS)
    assert (err.code, err.status) == ("UnsupportedOperation", 400)
    assert "RunInstances" in err.message
    assert ECS in err.message


def test_a_made_up_action_is_not_found(registry: Registry) -> None:
    err = _resolve_error(registry, "MakeCoffee", ECS)
    assert (err.code, err.status) == ("InvalidAction.NotFound", 404)
    assert err.message == "Specified api MakeCoffee is not found, please check your url and method."


def test_action_names_are_case_sensitive(registry: Registry) -> None:
    err = _resolve_error(registry, "describeregions", ECS)
    assert err.code == "InvalidAction.NotFound"


def test_an_unknown_version_is_invalid_version(registry: Registry) -> None:
    err = _resolve_error(registry, "DescribeRegions", "2099-01-01")
    assert (err.code, err.status) == ("InvalidVersion", 400)
    assert "2099-01-01" in err.message


def test_an_overlong_version_is_cut_short_in_the_message(registry: Registry) -> None:
    err = _resolve_error(registry, "DescribeRegions", "9" * 1000)
    assert err.code == "InvalidVersion"
    assert "9" * 64 in err.message
    assert "9" * 65 not in err.message


@pytest.mark.parametrize(
    ("action", "version", "missing"),
    [
        (None, ECS, "Action"),
        ("", ECS, "Action"),
        ("DescribeRegions", None, "Version"),
        ("DescribeRegions", "", "Version"),
        (None, None, "Action"),
    ],
)
def test_missing_action_or_version_is_missing_parameter(
    registry: Registry, action: str | None, version: str | None, missing: str
) -> None:
    err = _resolve_error(registry, action, version)
    assert (err.code, err.status) == ("MissingParameter", 400)
    assert f'"{missing}"' in err.message


def test_operation_takes_the_catalogue_parameters_of_a_catalogued_action() -> None:
    catalogued = operation("ecs", "DescribeRegions", _handler)
    made_up = operation("ecs", "MakeCoffee", _handler)
    assert {p.name for p in catalogued.params.params} >= {"AcceptLanguage", "ResourceType"}
    assert made_up.params.params == ()
    assert catalogued.ram_action == "ecs:DescribeRegions"
