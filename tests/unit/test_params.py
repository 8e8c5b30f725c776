"""Parameter specs: each kind of value, and the order errors are reported in."""

from __future__ import annotations

import pytest

from ecsram.contract.catalogue.params import Boolean, Checked, Integer, JsonStringList, Number, ParamSpec, String
from ecsram.contract.errors import ApiError


def _raises(code: str, fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as caught:
        fn(*args)
    assert caught.value.code == code
    return caught.value


def test_missing_required_reported_before_any_value_error() -> None:
    spec = ParamSpec((Integer("A", maximum=5), String("B", required=True)))
    err = _raises("MissingParameter", spec.validate, {"A": "99"})
    assert '"B"' in err.message


def test_blank_required_is_missing_and_blank_optional_is_absent() -> None:
    spec = ParamSpec((String("A", required=True), Integer("B", default=7)))
    _raises("MissingParameter", spec.validate, {"A": ""})
    assert spec.validate({"A": "x", "B": ""}) == {"A": "x", "B": 7}


@pytest.mark.parametrize("raw", ["abc", "1.5", "", " 1", "0x10", "1e3", "99999999999999999999"])
def test_integer_rejects_non_integers(raw: str) -> None:
    if raw == "":
        return
    err = _raises("InvalidParameter", Integer("PageSize").parse, raw)
    assert '"PageSize"' in err.message


def test_integer_range() -> None:
    param = Integer("PageSize", minimum=1, maximum=50)
    assert param.parse("50") == 50
    _raises("InvalidParameter", param.parse, "0")
    _raises("InvalidParameter", param.parse, "51")
    _raises("InvalidParameter", param.parse, "-1")


def test_boolean() -> None:
    assert Boolean("DryRun").parse("TRUE") is True
    assert Boolean("DryRun").parse("false") is False
    _raises("InvalidParameter", Boolean("DryRun").parse, "yes")


def test_number_rejects_nan_and_infinity() -> None:
    for raw in ("nan", "inf", "-Infinity", "x"):
        _raises("InvalidParameter", Number("Price").parse, raw)
    assert Number("Price", minimum=0).parse("1.5") == 1.5


def test_string_limits_and_choices() -> None:
    param = String("Name", min_length=2, max_length=4, choices=("ab", "abcd", "abcde"))
    assert param.parse("ab") == "ab"
    _raises("InvalidParameter", param.parse, "a")
    _raises("InvalidParameter", param.parse, "abcde")
    _raises("InvalidParameter", param.parse, "abc")


def _malformed() -> ApiError:
    return ApiError("InvalidInstanceIds.Malformed", 400, "The specified instanceIds are not valid.")


@pytest.mark.parametrize(
    "raw",
    ["i-1", "{}", '"i-1"', "[1,2]", '["a", null]', "[]", '[""]', "[" + ",".join(['"i"'] * 3) + "]"],
)
def test_json_string_list_rejections(raw: str) -> None:
    param = JsonStringList("InstanceIds", max_items=2, error=_malformed)
    _raises("InvalidInstanceIds.Malformed", param.parse, raw)


def test_json_string_list_dedupes_in_order() -> None:
    param = JsonStringList("InstanceIds", error=_malformed)
    assert param.parse('["b","a","b"]') == ("b", "a")


def test_late_params_are_checked_last() -> None:
    def never(_raw: str) -> str:
        raise ApiError("Late", 404, "late")

    spec = ParamSpec((Checked("RegionId", late=True, check=never), Integer("PageSize", maximum=1)))
    _raises("InvalidParameter", spec.validate, {"RegionId": "x", "PageSize": "5"})
    _raises("Late", spec.validate, {"RegionId": "x", "PageSize": "1"})
