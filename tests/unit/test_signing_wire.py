"""The V1 canonical query taken from the request's own encoding (``v1_canonical_query_from_wire``)
is exactly the one made from the decoded values, or is not taken at all."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsram.contract.errors import ApiError
from ecsram.gateway.request import decode_pairs
from ecsram.gateway.signing import percent_encode, v1_canonical_query, v1_canonical_query_from_wire

NAMES = st.text(alphabet="AaBbZz09.-_~", min_size=1, max_size=12)
VALUES = st.text(max_size=40)


def _wire(params: dict[str, str], seed: int) -> str:
    pairs = [f"{percent_encode(name)}={percent_encode(value)}" for name, value in params.items()]
    random.Random(seed).shuffle(pairs)
    return "&".join(pairs)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=12), st.integers(), st.booleans())
def test_a_canonically_encoded_request_gives_the_same_canonical_query(
    params: dict[str, str], seed: int, signed: bool
) -> None:
    if signed:
        params = {**params, "Signature": "abc/DEF+=="}
    assert v1_canonical_query_from_wire(_wire(params, seed)) == v1_canonical_query(params)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=12), st.integers(min_value=0, max_value=12), st.integers())
def test_query_and_form_body_together(params: dict[str, str], split: int, seed: int) -> None:
    items = list(params.items())
    query, body = dict(items[:split]), dict(items[split:])
    assert v1_canonical_query_from_wire(_wire(query, seed), _wire(body, seed)) == v1_canonical_query(params)


FRAGMENTS = ["a", "Z", "9", ".", "-", "_", "~", "%41", "%2F", "%2f", "%20", "+", "%E4%B8%AD", "%7E", "%FF", "中", " "]
TOKENS = st.tuples(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4), st.lists(st.sampled_from(FRAGMENTS), max_size=6)
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(TOKENS, max_size=8))
def test_any_wire_either_takes_the_slow_path_or_agrees_with_it(tokens: list[tuple[list[str], list[str]]]) -> None:
    wire = "&".join("".join(name) + "=" + "".join(value) for name, value in tokens)
    try:
        pairs = decode_pairs(wire.encode("utf-8"), "query string")
    except ApiError:
        return  # refused before any signature is checked
    params = dict(pairs)
    if len(params) < len(pairs):
        return  # a name given twice is refused before any signature is checked
    fast = v1_canonical_query_from_wire(wire)
    assert fast is None or fast == v1_canonical_query(params)


@pytest.mark.parametrize(
    "wire",
    [
        "a=%2f",  # lower-case hex
        "a=%41",  # an unreserved character escaped
        "a=x+y",  # '+' for a space
        "a=x y",
        "a",  # no '='
        "a=1&&b=2",  # an empty pair
        "a=1&",
        "a%2Eb=1",  # an escaped name
        "a=中",  # raw UTF-8
        "=1",
    ],
)
def test_other_encodings_take_the_slow_path(wire: str) -> None:
    assert v1_canonical_query_from_wire(wire) is None


def test_the_sdks_form() -> None:
    wire = (
        "Action=AttachInstanceRamRole&InstanceIds=%5B%22i-a%22%5D&Timestamp=2026-11-30T10%3A00%3A00Z&Signature=x%2By%3D"
    )
    assert v1_canonical_query_from_wire(wire) == (
        "Action=AttachInstanceRamRole&InstanceIds=%5B%22i-a%22%5D&Timestamp=2026-11-30T10%3A00%3A00Z"
    )
    assert v1_canonical_query_from_wire("") == "" == v1_canonical_query({})
