"""Every operation's parameters, systematically: each required one missing, each number of the
wrong type or out of range. (Hostile values for every parameter: test_hostile_input.py.)"""

from __future__ import annotations

import pytest

from ecsram.admin.operations import served_operations
from ecsram.contract.catalogue.params import FlatList, Integer
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation
from tests.conftest import Sdk

OPERATIONS = sorted(served_operations(), key=lambda op: (op.version, op.action))
REQUIRED = [(op, param.name) for op in OPERATIONS for param in op.params.params if param.required]
INTEGERS = [(op, param) for op in OPERATIONS for param in op.params.params if isinstance(param, Integer)]


@pytest.mark.parametrize(("operation", "missing"), REQUIRED, ids=[f"{op.action}-{name}" for op, name in REQUIRED])
def test_each_required_parameter_missing(sdk: Sdk, operation: Operation, missing: str) -> None:
    # Every other parameter is given (plausibly or not): a missing one is reported first.
    params = {
        f"{p.name}.1" if isinstance(p, FlatList) else p.name: "x" for p in operation.params.params if p.name != missing
    }
    response = sdk.raw().v1(operation.action, params, version=operation.version)
    assert (response.status, response.code) == (400, "MissingParameter"), response.body
    assert f'"{missing}"' in response.json["Message"]


@pytest.mark.parametrize(("operation", "param"), INTEGERS, ids=[f"{op.action}-{p.name}" for op, p in INTEGERS])
def test_each_integer_parameter(operation: Operation, param: Integer) -> None:
    for wrong in ("ten", "1.5", "0x10", "1e3", " 1", "9" * 30):
        with pytest.raises(ApiError) as caught:
            param.parse(wrong)
        assert caught.value.status == 400 and param.name in caught.value.message
    for outside in (param.minimum - 1, param.maximum + 1):
        with pytest.raises(ApiError):
            param.parse(str(outside))
    assert param.parse(str(param.minimum)) == param.minimum
    assert param.parse(str(param.maximum)) == param.maximum


def test_every_operation_declares_its_parameters() -> None:
    # A guard for the two tests above: they must be looking at something.
    assert len(REQUIRED) > 60
    assert {op.action for op, _ in INTEGERS} >= {"DescribeInstanceRamRole", "RunInstances", "DescribeInstances"}
