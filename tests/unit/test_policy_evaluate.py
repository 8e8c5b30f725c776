"""Policy evaluation: matching of actions, resources, principals and conditions, and how decisions combine."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ecsram.iam.conditions import compile_glob
from ecsram.iam.evaluate import AccessRequest, Decision, evaluate, evaluate_with_session, trust_allows
from ecsram.iam.policy import Policy, PolicyKind, parse_policy
from ecsram.iam.system_policies import SYSTEM_POLICIES

ACCOUNT = "1000000000000001"
OTHER_ACCOUNT = "1000000000000002"
INSTANCE = f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-abc"
ECS_TRUST = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],'
    '"Version":"1"}'
)
NEW_YEAR_2026 = 1767225600.0  # 2026-01-01T00:00:00Z


def policy(*statements: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> Policy:
    return parse_policy(orjson.dumps({"Version": "1", "Statement": list(statements)}).decode(), kind)


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(
    statements: dict[str, Any] | list[dict[str, Any]], action: str, resource: str = INSTANCE, **context: Any
) -> Decision:
    listed = statements if isinstance(statements, list) else [statements]
    return evaluate([policy(*listed)], AccessRequest(action, resource, context))


def allowed(statement: dict[str, Any], action: str, resource: str = INSTANCE, **context: Any) -> bool:
    decision = decide(statement, action, resource, **context)
    assert decision is not Decision.EXPLICIT_DENY
    return decision is Decision.ALLOW


# --- actions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("*", "ecs:DescribeInstances", True),
        ("*", "anything at all", True),
        ("ecs:*", "ecs:DescribeInstances", True),
        ("ecs:*", "ram:ListRoles", False),
        ("ecs:*", "ecs2:DescribeInstances", False),
        ("ecs:Describe*", "ecs:DescribeInstances", True),
        ("ecs:Describe*", "ecs:Describe", True),  # * also matches an empty run
        ("ecs:Describe*", "ecs:AttachInstanceRamRole", False),
        ("ecs:*Instance*", "ecs:AttachInstanceRamRole", True),
        ("ecs:*Instance*", "ecs:DescribeRegions", False),
        ("ecs:?escribeInstances", "ecs:DescribeInstances", True),
        ("ecs:?escribeInstances", "ecs:escribeInstances", False),  # ? is exactly one character
        ("ecs:Describe?", "ecs:DescribeAB", False),
        ("ecs:Describe??", "ecs:DescribeAB", True),
        ("ecs:DescribeInstances", "ecs:DescribeInstancesX", False),
        ("ecs:DescribeInstances", "xecs:DescribeInstances", False),
        ("ECS:describeinstances", "ecs:DescribeInstances", True),
        ("ecs:DescribeInstances", "ECS:DESCRIBEINSTANCES", True),
        ("ecs:Describe*", "Ecs:dEsCrIbEzones", True),
        ("ecs:s*", "ecs:\u017ftopInstance", False),  # only ASCII letters fold: the long s is not an "s"
    ],
)
def test_action_patterns(pattern: str, action: str, expected: bool) -> None:
    assert allowed(allow(pattern), action) is expected


def test_any_of_several_actions_matches() -> None:
    statement = allow(["ecs:StartInstance", "ecs:StopInstance"])
    assert allowed(statement, "ecs:StopInstance")
    assert not allowed(statement, "ecs:RebootInstance")


def test_not_action_allows_everything_but_the_listed_actions() -> None:
    statement = {"Effect": "Allow", "NotAction": ["ram:*", "sts:AssumeRole"], "Resource": "*"}
    assert allowed(statement, "ecs:RunInstances")
    assert not allowed(statement, "ram:PassRole")
    assert not allowed(statement, "RAM:passrole")
    assert not allowed(statement, "sts:AssumeRole")
    assert allowed(statement, "sts:GetCallerIdentity")


def test_not_action_deny_denies_everything_but_the_listed_actions() -> None:
    statements = [allow(), {"Effect": "Deny", "NotAction": "ecs:Describe*", "Resource": "*"}]
    assert decide(statements, "ecs:DescribeInstances") is Decision.ALLOW
    assert decide(statements, "ecs:DeleteInstance") is Decision.EXPLICIT_DENY


# --- resources ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("*", INSTANCE, True),
        ("*", "", True),
        (INSTANCE, INSTANCE, True),
        ("acs:ecs:*:*:instance/*", INSTANCE, True),
        ("acs:ecs:*:*:instance/*", f"acs:ecs:cn-hangzhou:{ACCOUNT}:disk/d-1", False),
        (f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-ab?", INSTANCE, True),
        (f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-a?", INSTANCE, False),
        (f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-ABC", INSTANCE, False),  # resources are case-sensitive
        ("ACS:ECS:*", INSTANCE, False),
        ("acs:ecs:*", INSTANCE, True),  # * crosses ":" and "/"
        ("acs:ecs:cn-hangzhou:*:instance/i-abc", INSTANCE, True),
        ("acs:ecs:cn-hangzhou:.*", INSTANCE, False),  # regex characters are literal
        ("acs:ecs:cn-hangzhou:1000000000000001:instance/i-a.c", INSTANCE, False),
        ("acs:ecs:cn-hangzhou:1000000000000001:instance/i-(abc)", f"{INSTANCE[:-5]}i-(abc)", True),
    ],
)
def test_resource_patterns(pattern: str, resource: str, expected: bool) -> None:
    assert allowed(allow("ecs:*", pattern), "ecs:StopInstance", resource) is expected


def test_not_resource_applies_to_every_other_resource() -> None:
    statement = {"Effect": "Allow", "Action": "ecs:*", "NotResource": "acs:ecs:*:*:instance/i-secret*"}
    assert allowed(statement, "ecs:StopInstance", INSTANCE)
    assert not allowed(statement, "ecs:StopInstance", f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-secret1")
    assert not allowed({"Effect": "Allow", "Action": "*", "NotResource": "*"}, "ecs:StopInstance")


def test_default_resource_is_the_literal_star() -> None:
    only_instances = policy(allow("ecs:*", "acs:ecs:*:*:instance/*"))
    assert evaluate([only_instances], AccessRequest("ecs:DescribeRegions")) is Decision.IMPLICIT_DENY
    assert evaluate([policy(allow("ecs:*"))], AccessRequest("ecs:DescribeRegions")) is Decision.ALLOW


# --- combining decisions -----------------------------------------------------------------------------------


def test_explicit_deny_wins_within_and_across_policies() -> None:
    granting = policy(allow())
    forbidding = policy(deny("ecs:Delete*"))
    request = AccessRequest("ecs:DeleteInstance", INSTANCE)
    assert evaluate([granting, forbidding], request) is Decision.EXPLICIT_DENY
    assert evaluate([forbidding, granting], request) is Decision.EXPLICIT_DENY
    assert evaluate([policy(allow(), deny("ecs:Delete*"))], request) is Decision.EXPLICIT_DENY
    assert evaluate([granting, forbidding], AccessRequest("ecs:StopInstance", INSTANCE)) is Decision.ALLOW


def test_deny_alone_is_explicit_and_no_match_is_implicit() -> None:
    assert decide(deny("ecs:*"), "ecs:StopInstance") is Decision.EXPLICIT_DENY
    assert decide(deny("ecs:*"), "ram:ListRoles") is Decision.IMPLICIT_DENY
    assert decide(allow("ram:*"), "ecs:StopInstance") is Decision.IMPLICIT_DENY
    assert evaluate([], AccessRequest("ecs:StopInstance")) is Decision.IMPLICIT_DENY


def test_deny_that_does_not_match_does_not_block() -> None:
    statements = [allow(), deny("ecs:*", "acs:ecs:*:*:instance/i-other")]
    assert decide(statements, "ecs:StopInstance") is Decision.ALLOW


def test_policies_may_be_any_iterable() -> None:
    policies = (policy(allow("ecs:*")) for _ in range(2))
    assert evaluate(policies, AccessRequest("ecs:StopInstance")) is Decision.ALLOW


# --- conditions --------------------------------------------------------------------------------------------

MISSING = object()

CONDITION_CASES: list[tuple[str, Any, Any, bool]] = [
    # operator, policy value(s), context value (MISSING: key absent), expected
    ("StringEquals", "a", "a", True),
    ("StringEquals", "a", "A", False),
    ("StringEquals", "a", MISSING, False),
    ("StringEquals", "a", None, False),
    ("StringEquals", ["x", "a"], "a", True),
    ("StringEquals", "a", ["x", "a"], True),
    ("StringEquals", "a", ["x", "y"], False),
    ("StringEquals", "a", [], False),
    ("StringEquals", "true", True, True),
    ("StringEquals", True, "true", True),
    ("StringEquals", "5", 5, True),
    ("StringNotEquals", "a", "a", False),
    ("StringNotEquals", "a", "b", True),
    ("StringNotEquals", "a", MISSING, True),
    ("StringNotEquals", ["a", "b"], "b", False),
    ("StringNotEquals", "a", ["x", "a"], False),
    ("StringNotEquals", "a", ["x", "y"], True),
    ("StringEqualsIgnoreCase", "ECS.AliyunCS.com", "ecs.aliyuncs.com", True),
    ("StringEqualsIgnoreCase", "Straße", "STRASSE", True),  # casefold, not just lower()
    ("StringEqualsIgnoreCase", "ecs", "ecs2", False),
    ("StringEqualsIgnoreCase", "ecs", MISSING, False),
    ("StringNotEqualsIgnoreCase", "ECS", "ecs", False),
    ("StringNotEqualsIgnoreCase", "ECS", "fc", True),
    ("StringNotEqualsIgnoreCase", "ECS", MISSING, True),
    ("StringLike", "ecs.*.com", "ecs.aliyuncs.com", True),
    ("StringLike", "ecs.*.com", "ECS.ALIYUNCS.COM", False),  # case-sensitive
    ("StringLike", "i-??", "i-ab", True),
    ("StringLike", "i-??", "i-abc", False),
    ("StringLike", ["x*", "i-*"], "i-abc", True),
    ("StringLike", "i-*", ["x", "i-1"], True),
    ("StringLike", "a.c", "abc", False),
    ("StringLike", "i-*", MISSING, False),
    ("StringNotLike", "i-*", "i-abc", False),
    ("StringNotLike", "i-*", "d-abc", True),
    ("StringNotLike", "i-*", MISSING, True),
    ("NumericEquals", "5", 5, True),
    ("NumericEquals", "5", 5.0, True),
    ("NumericEquals", "5.0", "5", True),
    ("NumericEquals", 5, 6, False),
    ("NumericEquals", "5", "abc", False),
    ("NumericEquals", "1", True, False),  # a boolean is not a number
    ("NumericEquals", ["1", "5"], 5, True),
    ("NumericEquals", "5", [4, 5], True),
    ("NumericEquals", "5", MISSING, False),
    ("NumericNotEquals", "5", 5, False),
    ("NumericNotEquals", "5", 6, True),
    ("NumericNotEquals", "5", MISSING, True),
    ("NumericNotEquals", "5", "abc", True),
    ("NumericLessThan", "5", 4.5, True),
    ("NumericLessThan", "5", 5, False),
    ("NumericLessThan", ["1", "10"], 5, True),
    ("NumericLessThan", "5", MISSING, False),
    ("NumericLessThanEquals", "5", 5, True),
    ("NumericLessThanEquals", "5", 6, False),
    ("NumericGreaterThan", "5", 6, True),
    ("NumericGreaterThan", "5", 5, False),
    ("NumericGreaterThanEquals", "5", 5, True),
    ("NumericGreaterThanEquals", "5", "4", False),
    ("NumericGreaterThanEquals", "5", MISSING, False),
    ("DateEquals", "2026-01-01T00:00:00Z", NEW_YEAR_2026, True),
    ("DateEquals", "2026-01-01T08:00:00+08:00", NEW_YEAR_2026, True),
    ("DateEquals", "1767225600", NEW_YEAR_2026, True),
    ("DateEquals", 1767225600, "2026-01-01T00:00:00Z", True),
    ("DateEquals", "2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC), True),
    ("DateEquals", "2026-01-01T00:00:00Z", NEW_YEAR_2026 + 1, False),
    ("DateEquals", "2026-01-01T00:00:00Z", "not a date", False),
    ("DateEquals", "2026-01-01T00:00:00Z", MISSING, False),
    ("DateNotEquals", "2026-01-01T00:00:00Z", NEW_YEAR_2026, False),
    ("DateNotEquals", "2026-01-01T00:00:00Z", 0.0, True),
    ("DateNotEquals", "2026-01-01T00:00:00Z", MISSING, True),
    ("DateLessThan", "2026-01-01T00:00:00Z", NEW_YEAR_2026 - 0.5, True),
    ("DateLessThan", "2026-01-01T00:00:00Z", NEW_YEAR_2026, False),
    ("DateLessThan", "2026-01-01T00:00:00.5Z", NEW_YEAR_2026 + 0.25, True),  # fractional seconds count
    ("DateLessThan", "2026-01-01T00:00:00Z", MISSING, False),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", NEW_YEAR_2026, True),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", NEW_YEAR_2026 + 1, False),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", NEW_YEAR_2026 + 1, True),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", NEW_YEAR_2026, False),
    ("DateGreaterThan", ["2030-01-01T00:00:00Z", "2020-01-01T00:00:00Z"], NEW_YEAR_2026, True),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", NEW_YEAR_2026, True),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", NEW_YEAR_2026 - 1, False),
    ("Bool", "true", True, True),
    ("Bool", "true", False, False),
    ("Bool", True, "TRUE", True),
    ("Bool", "False", False, True),
    ("Bool", "true", "yes", False),
    ("Bool", "true", 1, False),
    ("Bool", "true", MISSING, False),
    ("Bool", "false", MISSING, False),
    ("IpAddress", "10.0.0.0/8", "10.1.2.3", True),
    ("IpAddress", "10.0.0.0/8", "11.0.0.1", False),
    ("IpAddress", "10.0.0.0/8", "::ffff:10.1.2.3", True),  # IPv4-mapped IPv6 counts as IPv4
    ("IpAddress", "10.0.0.0/8", "garbage", False),
    ("IpAddress", "10.0.0.0/8", MISSING, False),
    ("IpAddress", "10.0.0.0/8", ["192.168.1.1", "10.0.0.1"], True),
    ("IpAddress", ["192.168.0.0/16", "10.0.0.0/8"], "10.0.0.1", True),
    ("IpAddress", "192.168.1.1", "192.168.1.1", True),
    ("IpAddress", "192.168.1.1", "192.168.1.2", False),
    ("IpAddress", "2001:db8::/32", "2001:db8::1", True),
    ("IpAddress", "2001:db8::/32", "10.0.0.1", False),
    ("IpAddress", "::/0", "10.0.0.1", False),  # an IPv6 block never contains an IPv4 address
    ("NotIpAddress", "10.0.0.0/8", "10.1.2.3", False),
    ("NotIpAddress", "10.0.0.0/8", "11.0.0.1", True),
    ("NotIpAddress", "10.0.0.0/8", "garbage", True),
    ("NotIpAddress", "10.0.0.0/8", MISSING, True),
]


@pytest.mark.parametrize(("operator", "values", "context_value", "expected"), CONDITION_CASES)
def test_condition_operators(operator: str, values: Any, context_value: Any, expected: bool) -> None:
    statement = allow(Condition={operator: {"acs:Key": values}})
    context = {} if context_value is MISSING else {"acs:key": context_value}
    assert allowed(statement, "ecs:StopInstance", **context) is expected


def test_every_operator_has_true_and_false_cases() -> None:
    outcomes: dict[str, set[bool]] = {}
    for operator, _, _, expected in CONDITION_CASES:
        outcomes.setdefault(operator, set()).add(expected)
    assert len(outcomes) == 21
    assert all(seen == {True, False} for seen in outcomes.values()), outcomes


def test_conditions_are_and_across_operators_and_keys() -> None:
    statement = allow(
        Condition={
            "Bool": {"acs:SecureTransport": "true"},
            "IpAddress": {"acs:SourceIp": "10.0.0.0/8"},
            "StringEquals": {"acs:Service": "ecs.aliyuncs.com", "acs:Region": "cn-hangzhou"},
        }
    )
    good = {
        "acs:securetransport": True,
        "acs:sourceip": "10.0.0.1",
        "acs:service": "ecs.aliyuncs.com",
        "acs:region": "cn-hangzhou",
    }
    assert allowed(statement, "ecs:StopInstance", **good)
    for key, wrong in [
        ("acs:securetransport", False),
        ("acs:sourceip", "8.8.8.8"),
        ("acs:service", "fc.aliyuncs.com"),
        ("acs:region", "cn-beijing"),
    ]:
        assert not allowed(statement, "ecs:StopInstance", **{**good, key: wrong}), key


def test_condition_keys_are_case_insensitive_in_the_policy() -> None:
    statement = allow(Condition={"IpAddress": {"ACS:SOURCEIP": "10.0.0.0/8"}})
    assert allowed(statement, "ecs:StopInstance", **{"acs:sourceip": "10.9.9.9"})


def test_conditional_deny_only_denies_when_its_condition_holds() -> None:
    statements = [allow(), deny(Condition={"Bool": {"acs:SecureTransport": "false"}})]
    assert decide(statements, "ecs:StopInstance", **{"acs:securetransport": False}) is Decision.EXPLICIT_DENY
    assert decide(statements, "ecs:StopInstance", **{"acs:securetransport": True}) is Decision.ALLOW
    # An absent key makes the positive Bool false, so the deny does not apply.
    assert decide(statements, "ecs:StopInstance") is Decision.ALLOW
    # ...whereas a negated operator holds on an absent key: this deny applies.
    strict = [allow(), deny(Condition={"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}})]
    assert decide(strict, "ecs:StopInstance") is Decision.EXPLICIT_DENY
    assert decide(strict, "ecs:StopInstance", **{"acs:sourceip": "10.0.0.1"}) is Decision.ALLOW


def test_current_time_window() -> None:
    window = allow(
        Condition={
            "DateGreaterThanEquals": {"acs:CurrentTime": "2026-01-01T00:00:00Z"},
            "DateLessThan": {"acs:CurrentTime": "2026-02-01T00:00:00+08:00"},
        }
    )
    assert allowed(window, "ecs:StopInstance", **{"acs:currenttime": NEW_YEAR_2026 + 86400})
    assert not allowed(window, "ecs:StopInstance", **{"acs:currenttime": NEW_YEAR_2026 - 1})
    assert not allowed(window, "ecs:StopInstance", **{"acs:currenttime": NEW_YEAR_2026 + 31 * 86400})


# --- trust policies ----------------------------------------------------------------------------------------


def trust(principal: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": "sts:AssumeRole", "Principal": principal, **extra}


def trusting(*statements: dict[str, Any]) -> Policy:
    return policy(*statements, kind=PolicyKind.TRUST)


def test_ecs_service_trust() -> None:
    ecs = parse_policy(ECS_TRUST, PolicyKind.TRUST)
    assert trust_allows(ecs, {"Service": "ecs.aliyuncs.com"})
    assert trust_allows(ecs, {"Service": "ECS.Aliyuncs.COM"})
    assert not trust_allows(ecs, {"Service": "fc.aliyuncs.com"})
    assert not trust_allows(ecs, {"RAM": f"acs:ram::{ACCOUNT}:root"})
    assert not trust_allows(ecs, {})


@pytest.mark.parametrize("account_form", [f"acs:ram::{ACCOUNT}:root", ACCOUNT])
def test_ram_account_principal_trusts_every_identity_of_that_account(account_form: str) -> None:
    role = trusting(trust({"RAM": [account_form]}))
    assert trust_allows(role, {"RAM": f"acs:ram::{ACCOUNT}:root"})
    assert trust_allows(role, {"RAM": f"acs:ram::{ACCOUNT}:user/alice"})
    assert trust_allows(role, {"RAM": f"acs:ram::{ACCOUNT}:assumed-role/admin/session"})
    assert not trust_allows(role, {"RAM": f"acs:ram::{OTHER_ACCOUNT}:user/alice"})
    assert not trust_allows(role, {"RAM": f"acs:ram::{ACCOUNT}7:user/alice"})  # a longer id is another account
    assert not trust_allows(role, {"Service": "ecs.aliyuncs.com"})


def test_ram_principal_short_id_is_not_an_account() -> None:
    role = trusting(trust({"RAM": "1234"}))
    assert not trust_allows(role, {"RAM": "acs:ram::1234:user/alice"})


def test_ram_principal_exact_arn_and_glob() -> None:
    alice_only = trusting(trust({"RAM": f"acs:ram::{ACCOUNT}:user/alice"}))
    assert trust_allows(alice_only, {"RAM": f"acs:ram::{ACCOUNT}:user/alice"})
    assert not trust_allows(alice_only, {"RAM": f"acs:ram::{ACCOUNT}:user/bob"})
    assert not trust_allows(alice_only, {"RAM": f"acs:ram::{ACCOUNT}:user/Alice"})
    assert not trust_allows(alice_only, {"RAM": f"acs:ram::{OTHER_ACCOUNT}:user/alice"})
    any_user = trusting(trust({"RAM": f"acs:ram::{ACCOUNT}:user/*"}))
    assert trust_allows(any_user, {"RAM": f"acs:ram::{ACCOUNT}:user/bob"})
    assert not trust_allows(any_user, {"RAM": f"acs:ram::{ACCOUNT}:root"})


def test_star_principal_trusts_anyone() -> None:
    anyone = trusting(trust("*"))
    assert trust_allows(anyone, {"Service": "fc.aliyuncs.com"})
    assert trust_allows(anyone, {"RAM": f"acs:ram::{OTHER_ACCOUNT}:user/x"})


def test_federated_principal() -> None:
    provider = f"acs:ram::{ACCOUNT}:saml-provider/idp"
    role = trusting(trust({"Federated": provider}))
    assert trust_allows(role, {"Federated": provider})
    assert not trust_allows(role, {"Federated": provider.upper()})
    assert not trust_allows(role, {"RAM": provider})


def test_trust_explicit_deny_wins() -> None:
    role = trusting(trust({"RAM": ACCOUNT}), trust({"RAM": f"acs:ram::{ACCOUNT}:user/mallory"}, effect="Deny"))
    assert trust_allows(role, {"RAM": f"acs:ram::{ACCOUNT}:user/alice"})
    assert not trust_allows(role, {"RAM": f"acs:ram::{ACCOUNT}:user/mallory"})


def test_trust_only_grants_assume_role() -> None:
    wrong_action = trusting({"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Principal": "*"})
    assert not trust_allows(wrong_action, {"Service": "ecs.aliyuncs.com"})
    star_action = trusting({"Effect": "Allow", "Action": "sts:*", "Principal": "*"})
    assert trust_allows(star_action, {"Service": "ecs.aliyuncs.com"})


def test_trust_conditions_use_the_context() -> None:
    role = trusting(trust({"RAM": ACCOUNT}, Condition={"Bool": {"acs:MFAPresent": "true"}}))
    caller = {"RAM": f"acs:ram::{ACCOUNT}:user/alice"}
    assert trust_allows(role, caller, {"acs:mfapresent": True})
    assert not trust_allows(role, caller, {"acs:mfapresent": False})
    assert not trust_allows(role, caller)


def test_trust_resource_is_ignored() -> None:
    role = trusting(trust({"Service": "ecs.aliyuncs.com"}, Resource=f"acs:ram::{ACCOUNT}:role/other"))
    assert trust_allows(role, {"Service": "ecs.aliyuncs.com"})


def test_statement_with_principal_needs_a_requesting_principal() -> None:
    role = trusting(trust({"Service": "ecs.aliyuncs.com"}))
    assert evaluate([role], AccessRequest("sts:AssumeRole")) is Decision.IMPLICIT_DENY
    request = AccessRequest("sts:AssumeRole", principal={"Service": "ecs.aliyuncs.com"})
    assert evaluate([role], request) is Decision.ALLOW


# --- session policies --------------------------------------------------------------------------------------


def test_session_policy_narrows() -> None:
    identity = [policy(allow("ecs:*"))]
    session = policy(allow("ecs:Describe*"))
    assert evaluate_with_session(identity, session, AccessRequest("ecs:DescribeInstances")) is Decision.ALLOW
    assert evaluate_with_session(identity, session, AccessRequest("ecs:StopInstance")) is Decision.IMPLICIT_DENY


def test_session_policy_never_widens() -> None:
    identity = [policy(allow("ecs:Describe*"))]
    everything = policy(allow())
    assert evaluate_with_session(identity, everything, AccessRequest("ecs:StopInstance")) is Decision.IMPLICIT_DENY
    assert evaluate_with_session([], everything, AccessRequest("ecs:DescribeInstances")) is Decision.IMPLICIT_DENY


def test_no_session_policy_means_the_identity_decides() -> None:
    identity = [policy(allow("ecs:*"), deny("ecs:Delete*"))]
    for action, expected in [
        ("ecs:StopInstance", Decision.ALLOW),
        ("ecs:DeleteInstance", Decision.EXPLICIT_DENY),
        ("ram:ListRoles", Decision.IMPLICIT_DENY),
    ]:
        assert evaluate_with_session(identity, None, AccessRequest(action)) is expected


def test_explicit_deny_in_either_policy_is_explicit() -> None:
    request = AccessRequest("ecs:StopInstance")
    assert evaluate_with_session([policy(allow())], policy(deny("ecs:Stop*")), request) is Decision.EXPLICIT_DENY
    assert evaluate_with_session([policy(deny("ecs:*"))], policy(allow()), request) is Decision.EXPLICIT_DENY
    # A session deny is explicit even where the identity grants nothing.
    assert evaluate_with_session([], policy(deny("ecs:*")), request) is Decision.EXPLICIT_DENY


def test_session_identity_may_be_a_generator() -> None:
    identity = (policy(allow("ecs:*")) for _ in range(1))
    assert evaluate_with_session(identity, policy(allow()), AccessRequest("ecs:StopInstance")) is Decision.ALLOW


# --- system policies ---------------------------------------------------------------------------------------


def system(name: str) -> Policy:
    return parse_policy(SYSTEM_POLICIES[name].document, PolicyKind.IDENTITY)


def test_system_policies_are_listed_and_valid_compact_json() -> None:
    assert set(SYSTEM_POLICIES) == {
        "AdministratorAccess",
        "AliyunECSFullAccess",
        "AliyunECSReadOnlyAccess",
        "AliyunRAMFullAccess",
        "AliyunRAMReadOnlyAccess",
        "AliyunSTSAssumeRoleAccess",
    }
    for name, entry in SYSTEM_POLICIES.items():
        assert entry.name == name
        assert len(entry.description) > 10
        assert entry.document == orjson.dumps(orjson.loads(entry.document)).decode()
        assert orjson.loads(entry.document)["Version"] == "1"
        assert system(name).statements


def test_system_policy_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        SYSTEM_POLICIES["Mine"] = SYSTEM_POLICIES["AdministratorAccess"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "action", "expected"),
    [
        ("AdministratorAccess", "ecs:AttachInstanceRamRole", True),
        ("AdministratorAccess", "ram:PassRole", True),
        ("AliyunECSFullAccess", "ecs:RunInstances", True),
        ("AliyunECSFullAccess", "ecs:AttachInstanceRamRole", True),
        ("AliyunECSFullAccess", "vpc:DescribeVpcs", True),
        ("AliyunECSFullAccess", "vpc:DescribeVSwitches", True),
        ("AliyunECSFullAccess", "vpc:CreateVpc", False),
        ("AliyunECSFullAccess", "ram:PassRole", False),
        ("AliyunECSReadOnlyAccess", "ecs:DescribeInstances", True),
        ("AliyunECSReadOnlyAccess", "ecs:ListTagResources", True),
        ("AliyunECSReadOnlyAccess", "vpc:DescribeVpcs", True),
        ("AliyunECSReadOnlyAccess", "ecs:AttachInstanceRamRole", False),
        ("AliyunECSReadOnlyAccess", "ecs:RunInstances", False),
        ("AliyunRAMFullAccess", "ram:CreateRole", True),
        ("AliyunRAMFullAccess", "ram:PassRole", True),
        ("AliyunRAMFullAccess", "ecs:DescribeInstances", False),
        ("AliyunRAMReadOnlyAccess", "ram:GetRole", True),
        ("AliyunRAMReadOnlyAccess", "ram:ListRoles", True),
        ("AliyunRAMReadOnlyAccess", "ram:CreateRole", False),
        ("AliyunRAMReadOnlyAccess", "ram:PassRole", False),
        ("AliyunSTSAssumeRoleAccess", "sts:AssumeRole", True),
        ("AliyunSTSAssumeRoleAccess", "sts:GetCallerIdentity", False),
        ("AliyunSTSAssumeRoleAccess", "ram:PassRole", False),
    ],
)
def test_system_policy_meaning(name: str, action: str, expected: bool) -> None:
    decision = evaluate([system(name)], AccessRequest(action, INSTANCE))
    assert decision is (Decision.ALLOW if expected else Decision.IMPLICIT_DENY)


# --- requests and speed ------------------------------------------------------------------------------------


def test_access_request_defaults_and_hashability() -> None:
    request = AccessRequest("ecs:StopInstance")
    assert request.resource == "*"
    assert request.context == {}
    assert request.principal is None
    assert hash(request) == hash(AccessRequest("ecs:StopInstance", context={"acs:sourceip": "10.0.0.1"}))


def test_evaluation_compiles_nothing() -> None:
    statements = [
        allow(
            [f"ecs:Describe{n}*", "ecs:?tart*"], [f"acs:ecs:*:*:instance/i-{n}*"], Condition={"StringLike": {"k": "a*"}}
        )
        for n in range(10)
    ]
    parsed = policy(*statements)
    before = compile_glob.cache_info()
    for n in range(50):
        evaluate([parsed], AccessRequest(f"ecs:Describe{n % 12}X", f"{INSTANCE}{n}", {"k": "abc"}))
    after = compile_glob.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits)


def test_hostile_glob_matches_in_linear_time() -> None:
    # Naive backtracking would need about len(text) ** 12 steps here.
    hostile = allow("*", "*a*a*a*a*a*a*a*a*a*a*a*a*b")
    started = time.perf_counter()
    assert not allowed(hostile, "ecs:StopInstance", "a" * 20_000)
    assert allowed(hostile, "ecs:StopInstance", "a" * 20_000 + "b")
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("principal", "ecs", "account"),
    [
        ({"RAM": [], "Service": []}, False, False),
        ({"RAM": [], "Service": ["ecs.aliyuncs.com"]}, True, False),
        ({"RAM": ["acs:ram::1000000000000001:root"], "Service": []}, False, True),
        ({"Service": []}, False, False),
    ],
)
def test_an_empty_principal_list_matches_no_one(principal: dict[str, list[str]], ecs: bool, account: bool) -> None:
    from ecsram.iam.trust import trusts_ecs

    document = orjson.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}]}
    ).decode()
    trust = parse_policy(document, PolicyKind.TRUST)
    assert trust_allows(trust, {"Service": "ecs.aliyuncs.com"}) is ecs
    assert trusts_ecs(document) is ecs
    assert trust_allows(trust, {"RAM": "acs:ram::1000000000000001:user/alice"}) is account
    assert trust_allows(trust, {"RAM": "acs:ram::1000000000000002:root"}) is False
