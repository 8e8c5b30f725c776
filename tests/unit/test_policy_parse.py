"""Policy documents: what parses, what is refused, and the reason given."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ecsram.iam.conditions import SUPPORTED_OPERATORS
from ecsram.iam.policy import Condition, Effect, MalformedPolicy, Policy, PolicyKind, Statement, parse_policy

ECS_TRUST = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],'
    '"Version":"1"}'
)

ALL_OPERATORS = (
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
)


def statement(**elements: Any) -> dict[str, Any]:
    """An identity statement (Allow ecs:DescribeInstances on *) with elements replaced; None removes one."""
    base: dict[str, Any] = {"Effect": "Allow", "Action": "ecs:DescribeInstances", "Resource": "*"}
    base.update(elements)
    return {key: value for key, value in base.items() if value is not None}


def document(*statements: dict[str, Any], version: Any = "1") -> str:
    return orjson.dumps({"Version": version, "Statement": list(statements)}).decode()


def refused(text: str, fragment: str, kind: PolicyKind = PolicyKind.IDENTITY, **options: Any) -> MalformedPolicy:
    with pytest.raises(MalformedPolicy) as caught:
        parse_policy(text, kind, **options)
    assert fragment in caught.value.reason, caught.value.reason
    assert str(caught.value) == caught.value.reason
    return caught.value


def only_statement(text: str, kind: PolicyKind = PolicyKind.IDENTITY) -> Statement:
    policy = parse_policy(text, kind)
    assert len(policy.statements) == 1
    return policy.statements[0]


# --- valid documents -----------------------------------------------------------------------------------


def test_minimal_identity_policy() -> None:
    policy = parse_policy(document(statement()))
    assert policy == Policy(
        version="1",
        statements=(
            Statement(
                effect=Effect.ALLOW,
                actions=("ecs:DescribeInstances",),
                not_action=False,
                resources=("*",),
                not_resource=False,
                principals=None,
                conditions=(),
            ),
        ),
    )


def test_lists_keep_their_order_and_single_strings_become_one_element_tuples() -> None:
    parsed = only_statement(
        document(statement(Effect="Deny", Action=["ecs:Stop*", "ecs:Start?nstance"], Resource=["acs:ecs:*:*:*"]))
    )
    assert parsed.effect is Effect.DENY
    assert parsed.actions == ("ecs:Stop*", "ecs:Start?nstance")
    assert parsed.resources == ("acs:ecs:*:*:*",)


def test_not_action_and_not_resource_are_flagged() -> None:
    parsed = only_statement(document(statement(Action=None, NotAction="ram:*", Resource=None, NotResource="x")))
    assert (parsed.actions, parsed.not_action) == (("ram:*",), True)
    assert (parsed.resources, parsed.not_resource) == (("x",), True)


def test_sid_is_accepted_and_statements_are_numbered_from_one() -> None:
    policy = parse_policy(document(statement(Sid="First"), statement(Sid="Second")))
    assert len(policy.statements) == 2
    refused(document(statement(), statement(Effect="Permit")), 'Statement 2: unknown Effect "Permit"')


def test_conditions_lower_case_keys_and_stringify_values() -> None:
    conditions = {
        "Bool": {"acs:SecureTransport": True},
        "NumericLessThan": {"acs:Count": [5, 2.5]},
        "StringEquals": {"acs:Service": "ecs.aliyuncs.com", "acs:MFAPresent": False},
    }
    parsed = only_statement(document(statement(Condition=conditions)))
    assert parsed.conditions == (
        Condition("Bool", "acs:securetransport", ("true",)),
        Condition("NumericLessThan", "acs:count", ("5", "2.5")),
        Condition("StringEquals", "acs:service", ("ecs.aliyuncs.com",)),
        Condition("StringEquals", "acs:mfapresent", ("false",)),
    )


def test_empty_condition_block_means_no_conditions() -> None:
    assert only_statement(document(statement(Condition={}))).conditions == ()


@pytest.mark.parametrize("operator", ALL_OPERATORS)
def test_every_listed_operator_is_supported(operator: str) -> None:
    sample = {
        "Numeric": "5",
        "Date": "2026-01-01T00:00:00Z",
        "Bool": "true",
        "IpAddress": "10.0.0.0/8",
        "NotIpAddress": "10.0.0.0/8",
    }
    value = next((v for prefix, v in sample.items() if operator.startswith(prefix)), "anything")
    parsed = only_statement(document(statement(Condition={operator: {"acs:Key": value}})))
    assert parsed.conditions == (Condition(operator, "acs:key", (value,)),)
    assert operator in SUPPORTED_OPERATORS


def test_supported_operators_are_exactly_the_listed_ones() -> None:
    assert frozenset(ALL_OPERATORS) == SUPPORTED_OPERATORS


def test_ecs_trust_policy_is_a_trust_policy_and_not_a_permission_policy() -> None:
    parsed = only_statement(ECS_TRUST, PolicyKind.TRUST)
    assert parsed.principals == {"Service": ("ecs.aliyuncs.com",)}
    assert parsed.actions == ("sts:AssumeRole",)
    assert parsed.resources == ()
    refused(ECS_TRUST, "Principal is only allowed in a role's trust policy", PolicyKind.IDENTITY)
    refused(ECS_TRUST, "Principal", PolicyKind.SESSION)


def test_trust_principals_in_all_forms() -> None:
    principal = {"RAM": ["acs:ram::1000000000000001:root", "1000000000000002"], "Service": "ecs.aliyuncs.com"}
    parsed = only_statement(document(statement(Resource=None, Principal=principal)), PolicyKind.TRUST)
    assert parsed.principals == {
        "RAM": ("acs:ram::1000000000000001:root", "1000000000000002"),
        "Service": ("ecs.aliyuncs.com",),
    }
    star = only_statement(document(statement(Resource=None, Principal="*")), PolicyKind.TRUST)
    assert star.principals == {"*": ("*",)}
    federated = only_statement(
        document(statement(Resource=None, Principal={"Federated": "acs:ram::1:saml-provider/x"})), PolicyKind.TRUST
    )
    assert federated.principals == {"Federated": ("acs:ram::1:saml-provider/x",)}


@pytest.mark.parametrize(
    "principal",
    [{"RAM": [], "Service": []}, {"RAM": []}, {"Service": []}, {"RAM": [], "Service": ["ecs.aliyuncs.com"]}],
)
def test_trust_principal_lists_may_be_empty(principal: dict[str, list[str]]) -> None:
    # Terraform's alicloud_ram_role builds such documents (acceptance test TestAccAliCloudRamRole_basic5890).
    parsed = only_statement(document(statement(Resource=None, Principal=principal)), PolicyKind.TRUST)
    assert parsed.principals == {kind: tuple(names) for kind, names in principal.items()}


def test_trust_policy_may_still_name_a_resource() -> None:
    parsed = only_statement(document(statement(Principal="*")), PolicyKind.TRUST)
    assert parsed.resources == ("*",)


def test_max_length_counts_characters_not_bytes() -> None:
    text = document(statement(Sid="ü" * 50))
    assert len(text.encode()) > len(text)
    assert parse_policy(text, max_length=len(text)).statements
    error = refused(text, f"is {len(text)} characters long; the limit is {len(text) - 1}", max_length=len(text) - 1)
    assert "characters" in error.reason


def test_length_is_checked_before_json() -> None:
    refused("x" * 20, "the limit is 10", max_length=10)


def test_policies_are_values_hashable_picklable_and_copyable() -> None:
    text = document(statement(Condition={"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}, "StringLike": {"k": "a*"}}))
    policy = parse_policy(text)
    assert policy == parse_policy(text)
    assert hash(policy) == hash(parse_policy(text))
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert copy.deepcopy(policy) == policy
    trust = parse_policy(ECS_TRUST, PolicyKind.TRUST)
    assert pickle.loads(pickle.dumps(trust)) == trust
    assert hash(trust) == hash(parse_policy(ECS_TRUST, PolicyKind.TRUST))


def test_direct_construction_accepts_lists_and_plain_effect_strings() -> None:
    built = Statement(Effect("Deny"), ["ecs:*"], False, ["*"], False, None, [])  # type: ignore[arg-type]
    assert built.actions == ("ecs:*",)
    assert built.conditions == ()
    assert built == only_statement(document(statement(Effect="Deny", Action="ecs:*")))


def test_direct_condition_with_an_unsuitable_value_is_refused() -> None:
    with pytest.raises(ValueError, match="finite numbers"):
        Condition("NumericEquals", "acs:count", ("many",))


# --- refusals ----------------------------------------------------------------------------------------------

REFUSALS: list[tuple[str, str, str]] = [
    ("not json", "{", "not valid JSON"),
    ("empty text", "", "not valid JSON"),
    ("trailing garbage", document(statement()) + "x", "not valid JSON"),
    ("NaN literal", '{"Version":"1","Statement":[NaN]}', "not valid JSON"),
    ("lone surrogate", '{"Version":"\ud800"}', "not valid JSON"),
    ("top-level list", "[]", "must be a JSON object, not a list"),
    ("top-level string", '"policy"', "must be a JSON object, not a string"),
    ("top-level null", "null", "must be a JSON object, not null"),
    ("unknown top-level key", '{"Version":"1","Statement":[],"Id":"x"}', 'Unknown top-level element "Id"'),
    ("version missing", '{"Statement":[]}', "Version is missing"),
    ("version number", document(statement(), version=1), 'Version must be the string "1", not 1'),
    ("version 2", document(statement(), version="2"), 'Version must be the string "1", not "2"'),
    ("statement missing", '{"Version":"1"}', "Statement is missing"),
    ("statement object", '{"Version":"1","Statement":{"Effect":"Allow"}}', "Statement must be a list"),
    ("statement empty", '{"Version":"1","Statement":[]}', "at least one statement"),
    ("statement not object", '{"Version":"1","Statement":["Allow"]}', "Statement 1 must be an object, not a string"),
    ("unknown key", document(statement(Actions="ecs:*")), 'Statement 1: unknown element "Actions"'),
    ("lower-case key", document(statement(effect="Allow")), 'unknown element "effect"'),
    ("effect missing", document(statement(Effect=None)), "Effect is missing"),
    ("effect permit", document(statement(Effect="Permit")), 'unknown Effect "Permit"; use "Allow" or "Deny".'),
    ("effect lower case", document(statement(Effect="allow")), 'unknown Effect "allow"'),
    ("effect list", document(statement(Effect=["Allow"])), 'unknown Effect ["Allow"]'),
    ("sid number", document(statement(Sid=1)), "Sid must be a string"),
    ("both actions", document(statement(NotAction="ram:*")), "both Action and NotAction"),
    ("no action", document(statement(Action=None)), "needs an Action or a NotAction"),
    ("both resources", document(statement(NotResource="x")), "both Resource and NotResource"),
    ("no resource", document(statement(Resource=None)), "needs a Resource or a NotResource"),
    ("action number", document(statement(Action=5)), "Action must be a string or a list of strings, not a number"),
    ("action object", document(statement(Action={"a": 1})), "not an object"),
    ("action empty list", document(statement(Action=[])), "Action must not be an empty list"),
    ("action empty string", document(statement(Action="")), "Action must not be an empty string"),
    ("action empty element", document(statement(Action=["ecs:*", ""])), "must not contain an empty string"),
    ("action non-string element", document(statement(Action=["ecs:*", 3])), "only strings, not a number (3)"),
    ("not-action empty", document(statement(Action=None, NotAction=[])), "NotAction must not be an empty list"),
    ("resource null element", document(statement(Resource=[None])), "only strings, not null"),
    ("not-resource number", document(statement(Resource=None, NotResource=1)), "NotResource must be a string"),
    ("resource empty string", document(statement(Resource="")), "Resource must not be an empty string"),
]


@pytest.mark.parametrize(("text", "fragment"), [(t, f) for _, t, f in REFUSALS], ids=[n for n, _, _ in REFUSALS])
def test_refusals(text: str, fragment: str) -> None:
    refused(text, fragment)


@pytest.mark.parametrize(
    "action", ["*", "ecs:DescribeInstances", "ecs:Describe*", "ecs:*", "ECS:?tart*", "my-svc:Get1"]
)
def test_valid_action_patterns(action: str) -> None:
    assert only_statement(document(statement(Action=action))).actions == (action,)


@pytest.mark.parametrize(
    "action",
    ["ecs", "ecs:", ":Describe", "ecs:a b", "*:Describe", "ecs:Describe-Instances", "ecs:*:*", "e_cs:Get", "ecs:Gét"],
)
def test_invalid_action_patterns(action: str) -> None:
    error = refused(document(statement(Action=action)), "is not a valid action")
    assert orjson.dumps(action).decode() in error.reason
    refused(document(statement(Action=None, NotAction=["ecs:*", action])), "NotAction")


PRINCIPAL_REFUSALS: list[tuple[Any, str]] = [
    ("ecs.aliyuncs.com", 'Principal must be "*" or an object'),
    (["*"], 'Principal must be "*" or an object'),
    ({}, "at least one of RAM, Service, Federated"),
    ({"AWS": "x"}, 'unknown Principal type "AWS"'),
    ({"service": "ecs.aliyuncs.com"}, 'unknown Principal type "service"'),
    ({"Service": [""]}, "Principal Service must not contain an empty string"),
    ({"Service": ""}, "Principal Service must not be an empty string"),
    ({"RAM": [1]}, "Principal RAM must contain only strings"),
    ({"Federated": {"x": "y"}}, "Principal Federated must be a string or a list of strings"),
]


@pytest.mark.parametrize(("principal", "fragment"), PRINCIPAL_REFUSALS)
def test_principal_refusals(principal: Any, fragment: str) -> None:
    refused(document(statement(Resource=None, Principal=principal)), fragment, PolicyKind.TRUST)


def test_principal_is_required_in_trust_and_forbidden_elsewhere() -> None:
    refused(document(statement()), "a trust policy statement needs a Principal", PolicyKind.TRUST)
    refused(document(statement(Principal="*")), "not in a identity policy", PolicyKind.IDENTITY)
    refused(document(statement(Principal="*")), "not in a session policy", PolicyKind.SESSION)


def test_session_policies_need_resources_like_identity_policies() -> None:
    refused(document(statement(Resource=None)), "needs a Resource", PolicyKind.SESSION)


CONDITION_REFUSALS: list[tuple[Any, str]] = [
    ("x", "Condition must be an object of operators, not a string"),
    ([{"Bool": {}}], "Condition must be an object of operators, not a list"),
    ({"StringEqualz": {"k": "v"}}, 'unknown condition operator "StringEqualz"'),
    ({"stringequals": {"k": "v"}}, 'unknown condition operator "stringequals"'),
    ({"ForAnyValue:StringEquals": {"k": "v"}}, 'unknown condition operator "ForAnyValue:StringEquals"'),
    ({"StringEquals": "k"}, "Condition StringEquals must be an object of condition keys, not a string"),
    ({"StringEquals": {"": "v"}}, "empty condition key"),
    ({"StringEquals": {"k": []}}, 'Condition StringEquals "k" must not be an empty list'),
    ({"StringEquals": {"k": None}}, "must be strings, numbers or booleans, not null"),
    ({"StringEquals": {"k": ["a", ["b"]]}}, "not a list"),
    ({"StringEquals": {"k": {"a": "b"}}}, "not an object"),
    ({"NumericEquals": {"k": "abc"}}, "NumericEquals needs finite numbers, not 'abc'"),
    ({"NumericLessThan": {"k": ["1", "nan"]}}, "not 'nan'"),
    ({"NumericGreaterThan": {"k": "inf"}}, "not 'inf'"),
    ({"NumericEquals": {"k": "1e400"}}, "not '1e400'"),
    ({"NumericEquals": {"k": " 5"}}, "not ' 5'"),
    ({"NumericEquals": {"k": "1_000"}}, "not '1_000'"),
    ({"NumericEquals": {"k": True}}, "not 'true'"),
    ({"DateLessThan": {"k": "tomorrow"}}, "DateLessThan needs ISO 8601 times"),
    ({"DateEquals": {"k": "2026-13-01T00:00:00Z"}}, "not '2026-13-01T00:00:00Z'"),
    ({"DateGreaterThan": {"k": ""}}, "needs ISO 8601"),
    ({"Bool": {"k": "yes"}}, "Bool needs true or false, not 'yes'"),
    ({"Bool": {"k": 1}}, "not '1'"),
    ({"IpAddress": {"k": "10.0.0.0/33"}}, "IpAddress needs IPv4/IPv6 addresses or CIDR blocks, not '10.0.0.0/33'"),
    ({"NotIpAddress": {"k": "999.1.1.1"}}, "NotIpAddress needs IPv4/IPv6"),
    ({"IpAddress": {"k": ["10.0.0.0/8", "localhost"]}}, "not 'localhost'"),
]


@pytest.mark.parametrize(("condition", "fragment"), CONDITION_REFUSALS)
def test_condition_refusals(condition: Any, fragment: str) -> None:
    error = refused(document(statement(), statement(Condition=condition)), fragment)
    assert error.reason.startswith("Statement 2: ")


@pytest.mark.parametrize(
    ("operator", "values"),
    [
        ("NumericEquals", ["5", "-1.5", "+3", ".5", "2.", "1e3", "2.5E-3"]),
        ("NumericLessThan", [5, 2.5, -7]),
        (
            "DateLessThan",
            [
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00.123Z",
                "2026-01-01T08:00:00+08:00",
                "2026-01-01T00:00:00.5-03:30",
                "1767225600",
                1767225600,
                1767225600.5,
            ],
        ),
        ("Bool", ["true", "false", "TRUE", "False", True, False]),
        ("IpAddress", ["10.0.0.0/8", "10.1.2.3", "10.1.2.3/8", "2001:db8::/32", "::1", "0.0.0.0/0"]),
        ("StringEquals", ["", " spaced ", "ünïcode", 12, True]),
    ],
)
def test_condition_values_that_suit_their_operator(operator: str, values: list[Any]) -> None:
    parsed = only_statement(document(statement(Condition={operator: {"acs:k": values}})))
    assert len(parsed.conditions[0].values) == len(values)


def test_reason_shortens_hostile_values() -> None:
    error = refused(document(statement(Effect="x" * 10_000)), "unknown Effect")
    assert len(error.reason) < 200


def test_non_text_input_is_refused() -> None:
    refused(b"{}", "must be text")  # type: ignore[arg-type]
    refused(None, "must be text")  # type: ignore[arg-type]


# --- fuzzing: only Policy or MalformedPolicy, whatever the input ------------------------------------------


def _outcome(text: str, kind: PolicyKind) -> Policy | MalformedPolicy:
    try:
        return parse_policy(text, kind, max_length=6144)
    except MalformedPolicy as exc:
        assert exc.reason
        assert len(exc.reason) < 600
        return exc


def _to_json(value: Any) -> str:
    # The standard encoder, not orjson: it also writes integers beyond 64 bits and Infinity, both worth feeding in.
    return json.dumps(value, ensure_ascii=False)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)

ATOMS = (
    "Allow",
    "Deny",
    "*",
    "ecs:*",
    "ecs:Describe*",
    "sts:AssumeRole",
    "acs:ecs:*:*:instance/*",
    "ecs.aliyuncs.com",
    "10.0.0.0/8",
    "2026-01-01T00:00:00Z",
    "true",
    "5",
)
junk = st.recursive(
    st.sampled_from(ATOMS) | json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from((*ALL_OPERATORS, "RAM", "Service", "acs:SourceIp", "Bad")), children, max_size=3
        )
    ),
    max_leaves=12,
)


@st.composite
def mostly(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """Usually (19 in 20) a valid element, sometimes junk: most documents then get deep enough to reach every rule."""
    # Compare with a middle value: Hypothesis favours the bounds of an integer range.
    return draw(junk) if draw(st.integers(0, 19)) == 13 else draw(valid)


@st.composite
def rarely(draw: st.DrawFn, value: st.SearchStrategy[Any]) -> Any:
    """An element that is present only now and then (``ABSENT`` otherwise)."""
    return draw(value) if draw(st.integers(0, 9)) == 7 else ABSENT


ABSENT = object()


def one_or_many(values: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values) | st.lists(st.sampled_from(values), min_size=1, max_size=3)


CONDITION_SAMPLES = {
    "StringLike": "ecs*",
    "NumericLessThan": "5",
    "DateGreaterThan": "2026-01-01T00:00:00Z",
    "Bool": "true",
    "IpAddress": "10.0.0.0/8",
}
valid_conditions = st.dictionaries(
    st.sampled_from(tuple(CONDITION_SAMPLES)),
    st.dictionaries(st.sampled_from(("acs:SourceIp", "acs:CurrentTime", "k")), mostly(st.just("x")), max_size=2),
    max_size=2,
).map(
    lambda block: {
        op: {k: CONDITION_SAMPLES[op] if v == "x" else v for k, v in keys.items()} for op, keys in block.items()
    }
)
valid_principals = st.just("*") | st.fixed_dictionaries({"Service": one_or_many(("ecs.aliyuncs.com",))})


def fuzzed_statements(kind: PolicyKind) -> st.SearchStrategy[dict[str, Any]]:
    trust = kind is PolicyKind.TRUST
    resources = mostly(one_or_many(("*", "acs:ecs:*:*:instance/*")))
    elements = {
        "Effect": mostly(st.sampled_from(("Allow", "Deny"))),
        "Action": mostly(one_or_many(("*", "ecs:Describe*", "sts:AssumeRole", "ram:?assRole"))),
        "NotAction": rarely(mostly(one_or_many(("ecs:*",)))),
        "Resource": rarely(resources) if trust else resources,
        "NotResource": rarely(mostly(one_or_many(("acs:ram::1:role/x",)))),
        "Principal": mostly(valid_principals) if trust else rarely(valid_principals),
        "Condition": st.one_of(st.just(ABSENT), mostly(valid_conditions)),
        "Sid": st.one_of(st.just(ABSENT), mostly(st.text(max_size=5))),
        "X": rarely(junk),
    }
    return st.fixed_dictionaries(elements).map(lambda raw: {k: v for k, v in raw.items() if v is not ABSENT})


def near_valid_documents(kind: PolicyKind) -> st.SearchStrategy[str]:
    return st.fixed_dictionaries(
        {
            "Version": mostly(st.just("1")),
            "Statement": mostly(st.lists(fuzzed_statements(kind), min_size=1, max_size=3)),
        }
    ).map(_to_json)


kinds_and_documents = st.sampled_from(PolicyKind).flatmap(
    lambda kind: st.tuples(st.just(kind), near_valid_documents(kind))
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), kind=st.sampled_from(PolicyKind))
def test_fuzz_arbitrary_text(text: str, kind: PolicyKind) -> None:
    _outcome(text, kind)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, kind=st.sampled_from(PolicyKind))
def test_fuzz_arbitrary_json(value: Any, kind: PolicyKind) -> None:
    _outcome(_to_json(value), kind)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(case=kinds_and_documents)
def test_fuzz_near_valid_documents(case: tuple[PolicyKind, str]) -> None:
    kind, text = case
    outcome = _outcome(text, kind)
    event("parsed" if isinstance(outcome, Policy) else "refused")
    if isinstance(outcome, Policy):
        # Whatever parsed must be self-consistent with the rules it passed.
        assert outcome.version == "1"
        for parsed in outcome.statements:
            assert parsed.actions
            assert (parsed.principals is not None) == (kind is PolicyKind.TRUST)
            assert parsed.resources or kind is PolicyKind.TRUST
