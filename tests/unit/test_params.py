"""Parameter specs: each kind of value, and the order errors are reported in."""

from __future__ import annotations

import pytest

from ecsram.contract import paging
from ecsram.contract.catalogue.params import (
    HUGE_INDEX,
    Boolean,
    Checked,
    FlatList,
    Integer,
    JsonStringList,
    Number,
    ParamSpec,
    String,
    has_control_character,
    list_index,
)
from ecsram.contract.errors import ApiError
from ecsram.gateway.request import decode_pairs


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


# --- values that must never reach the store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "index"),
    [("1", 1), ("007", 7), ("100", 100), ("9" * 18, 10**18 - 1), ("9" * 19, HUGE_INDEX), ("1" * 5000, HUGE_INDEX)],
)
def test_list_index_reads_ascii_digits(text: str, index: int) -> None:
    assert list_index(text) == index


# '²' passes str.isdigit() and int() refuses it; '٣' and '３' pass both, and must not count either.
@pytest.mark.parametrize("text", ["", "\u00b2", "1\u00b2", "\u0663", "\uff13", "-1", "+1", " 1", "1 ", "1.0", "x"])
def test_list_index_refuses_everything_else(text: str) -> None:
    assert list_index(text) is None


@pytest.mark.parametrize("name", ["InstanceId.\u00b2", "InstanceId.\u0663", "InstanceId.0", "InstanceId.101"])
def test_flat_list_refuses_indexes_that_are_not_ascii_digits_in_range(name: str) -> None:
    _raises("InvalidParameter", FlatList("InstanceId", max_items=100).read, {name: "i-1"})


def test_flat_list_orders_by_index() -> None:
    assert FlatList("InstanceId").read({"InstanceId.10": "b", "InstanceId.9": "a"}) == ["a", "b"]


@pytest.mark.parametrize("key", ["\x00", "a\x00", "r\x01", "x\x1f", "\x7f", "a\x0bb"])
def test_paging_tokens_carrying_control_characters_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        paging.decode(paging.encode(key))


def test_paging_tokens_round_trip() -> None:
    for key in ("role-1", "System|administratoraccess", '["i-1","k"]', "\u00e9\u4e2d"):
        assert paging.decode(paging.encode(key)) == key


def test_json_string_list_refuses_escaped_control_characters() -> None:
    param = JsonStringList("InstanceIds")
    for raw in ('["i-\\u0000"]', '["i-\\u0001"]', '["i-\\u007f"]'):
        _raises("InvalidParameter", param.parse, raw)
    assert param.parse('["i-\\u00e9"]') == ("i-\u00e9",)


def test_control_characters_but_tab_newline_and_return() -> None:
    assert [has_control_character(ch) for ch in "\t\n\r"] == [False, False, False]
    assert all(has_control_character(chr(code)) for code in [*range(9), 11, 12, *range(14, 32), 127])
    assert not has_control_character("plain \u00e9 \u0085 text")


@pytest.mark.parametrize(
    "raw", [b"a=%00", b"a=%01", b"%1B=x", b"a=%7f", b"a=%7F", b"a=\x01", b"a\x00=1", b"a=b&c=%0B", b"a=%0c"]
)
def test_decode_pairs_refuses_control_characters(raw: bytes) -> None:
    err = _raises("InvalidParameter.Encoding", decode_pairs, raw, "query string")
    assert "control character" in err.message


def test_decode_pairs_keeps_tab_newline_return_and_escaped_percent() -> None:
    pairs = decode_pairs(b"a=%09%0A%0D&b=%2500&c=%7E", "query string")
    assert pairs == [("a", "\t\n\r"), ("b", "%00"), ("c", "~")]
