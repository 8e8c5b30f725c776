"""The request path's event columns (``_resource_columns``) against the plain definition
(``resources``, joined without repeats): the same for any parameters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ecsram.gateway import trail

VALUES = st.one_of(
    st.sampled_from(["", ";", "i-a", "i-a;i-b", "EcsRole", "acs:ram::1:role/EcsRole", '["i-a", "i-b", 3]', "[bad"]),
    st.lists(st.sampled_from(["i-a", "i-b", "", ";", "i-\x00c"]), max_size=25).map(
        lambda items: "[" + ",".join(f'"{item}"' for item in items) + "]"
    ),
    st.text(max_size=300),
)
KEYS = st.sampled_from([*trail.RESOURCE_PARAMETERS, "ResourceId.1", "ResourceId.2", "RegionId", "Other"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_the_fast_columns_equal_the_plain_definition(params: dict[str, str]) -> None:
    named = trail.resources(params)
    expected = (
        (trail.trail.join_resources([name for _kind, name in named]), ";".join(dict.fromkeys(t for t, _ in named)))
        if named
        else (None, None)
    )
    assert trail._resource_columns(params) == expected


def test_an_attach_names_its_instances_and_role() -> None:
    params = {"InstanceIds": '["i-a","i-b","i-a"]', "RamRoleName": "EcsRole", "RegionId": "cn-hangzhou"}
    assert trail._resource_columns(params) == ("i-a;i-b;EcsRole", "ACS::ECS::Instance;ACS::RAM::Role")
    assert trail._resource_columns({"RegionId": "cn-hangzhou"}) == (None, None)
