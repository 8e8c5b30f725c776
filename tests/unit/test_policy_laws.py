"""Laws of policy evaluation, checked on random policies from a small vocabulary (so statements do match).

Each law is a plain function of an engine and a generated case, so the same law is run against the real engine
(it must always hold) and against plausible buggy engines (Hypothesis must find a counterexample): that shows
the laws and the generators have teeth.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, event, find, given, settings
from hypothesis import strategies as st

from ecsram.iam.evaluate import AccessRequest, Decision, evaluate, evaluate_with_session
from ecsram.iam.policy import Effect, Policy, PolicyKind, Statement, parse_policy

Engine = Callable[[Iterable[Policy], AccessRequest], Decision]
SessionEngine = Callable[[Iterable[Policy], Policy | None, AccessRequest], Decision]

ACCOUNT = "1000000000000001"
INSTANCE_A = f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-a"
INSTANCE_B = f"acs:ecs:cn-beijing:{ACCOUNT}:instance/i-bb"
ROLE = f"acs:ram::{ACCOUNT}:role/ecs-role"

# Small vocabularies so statements match often. Each request action matches about half of the action
# patterns (exactly, by wildcard or by case-folding), and each resource about half of the resource patterns.
ACTIONS = ("ecs:DescribeInstances", "ecs:AttachInstanceRamRole", "ram:PassRole")
ACTION_PATTERNS = (*ACTIONS, "*", "ecs:*", "ecs:Describe*", "ECS:attachinstanceramrole", "ram:?assRole")
RESOURCES = (INSTANCE_A, INSTANCE_B, ROLE)
RESOURCE_PATTERNS = (*RESOURCES, "*", "acs:ecs:*:*:instance/*", f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-?")
CONDITIONS: tuple[dict[str, dict[str, Any]], ...] = (
    {"Bool": {"acs:SecureTransport": "true"}},
    {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
    {"StringEquals": {"acs:Service": "ecs.aliyuncs.com"}},
    {"DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}},
    {"NumericLessThanEquals": {"acs:Count": 5}},
)


# --- generators --------------------------------------------------------------------------------------------


def _some(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=2)


@st.composite
def statement_documents(draw: st.DrawFn, effects: tuple[str, ...] = ("Allow", "Allow", "Deny")) -> dict[str, Any]:
    raw: dict[str, Any] = {"Effect": draw(st.sampled_from(effects))}
    # Not* elements are the odd ones out: about one statement in six.
    raw["NotAction" if draw(st.integers(0, 5)) == 3 else "Action"] = draw(_some(ACTION_PATTERNS))
    raw["NotResource" if draw(st.integers(0, 5)) == 3 else "Resource"] = draw(_some(RESOURCE_PATTERNS))
    # A condition on about one statement in three, so that conditions decide some cases but not most.
    if draw(st.integers(0, 2)) == 1:
        raw["Condition"] = draw(st.sampled_from(CONDITIONS))
    return raw


def _parse(statements: Sequence[dict[str, Any]]) -> Policy:
    return parse_policy(orjson.dumps({"Version": "1", "Statement": list(statements)}).decode(), PolicyKind.IDENTITY)


def policies(
    effects: tuple[str, ...] = ("Allow", "Allow", "Deny"), max_statements: int = 3
) -> st.SearchStrategy[Policy]:
    return st.lists(statement_documents(effects), min_size=1, max_size=max_statements).map(_parse)


contexts = st.fixed_dictionaries(
    {},
    optional={
        "acs:securetransport": st.booleans(),
        "acs:sourceip": st.sampled_from(("10.0.0.1", "192.168.1.1", "8.8.8.8")) | st.just(["8.8.8.8", "10.1.1.1"]),
        "acs:service": st.sampled_from(("ecs.aliyuncs.com", "fc.aliyuncs.com")),
        "acs:currenttime": st.sampled_from((1_700_000_000.0, 1_800_000_000.0)),
        "acs:count": st.integers(3, 7),
    },
)
requests = st.builds(
    AccessRequest, action=st.sampled_from(ACTIONS), resource=st.sampled_from(RESOURCES), context=contexts
)


@dataclass(frozen=True)
class Case:
    policies: tuple[Policy, ...]
    request: AccessRequest


cases = st.builds(Case, st.lists(policies(), max_size=3).map(tuple), requests)


# --- engines: the real one and plausible mistakes ----------------------------------------------------------


def _statements(policies: Iterable[Policy]) -> list[Statement]:
    return [statement for policy in policies for statement in policy.statements]


def _applies(statement: Statement, request: AccessRequest) -> bool:
    """Whether one statement matches, asked of the real engine so the mutants differ only in combining."""
    return evaluate([Policy("1", (statement,))], request) is not Decision.IMPLICIT_DENY


def first_match_wins(policies: Iterable[Policy], request: AccessRequest) -> Decision:
    for statement in _statements(policies):
        if _applies(statement, request):
            return Decision.ALLOW if statement.effect is Effect.ALLOW else Decision.EXPLICIT_DENY
    return Decision.IMPLICIT_DENY


def allow_overrides_deny(policies: Iterable[Policy], request: AccessRequest) -> Decision:
    matching = [s.effect for s in _statements(policies) if _applies(s, request)]
    if Effect.ALLOW in matching:
        return Decision.ALLOW
    return Decision.EXPLICIT_DENY if matching else Decision.IMPLICIT_DENY


def last_policy_decides(policies: Iterable[Policy], request: AccessRequest) -> Decision:
    decision = Decision.IMPLICIT_DENY
    for policy in policies:
        verdict = evaluate([policy], request)
        if verdict is not Decision.IMPLICIT_DENY:
            decision = verdict
    return decision


def session_union(identity: Iterable[Policy], session: Policy | None, request: AccessRequest) -> Decision:
    return evaluate([*identity, *([session] if session else [])], request)


def session_replaces_identity(identity: Iterable[Policy], session: Policy | None, request: AccessRequest) -> Decision:
    return evaluate([session] if session else identity, request)


def session_only_denies(identity: Iterable[Policy], session: Policy | None, request: AccessRequest) -> Decision:
    """Treats the session policy as a deny list: forgets that it must also allow."""
    granted = evaluate(identity, request)
    if session is not None and evaluate([session], request) is Decision.EXPLICIT_DENY:
        return Decision.EXPLICIT_DENY
    return granted


# --- the laws ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DenyCase:
    base: Case
    extra: tuple[Policy, ...]
    # Where to put a Deny statement built to match the request: which policy (len = a new one), which slot.
    policy_slot: int
    statement_slot: int
    deny_action: str
    deny_resource: str


@st.composite
def deny_cases(draw: st.DrawFn) -> DenyCase:
    base = draw(cases)
    request = base.request
    service = request.action.split(":")[0]
    return DenyCase(
        base=base,
        extra=tuple(draw(st.lists(policies(), max_size=2))),
        policy_slot=draw(st.integers(0, len(base.policies))),
        statement_slot=draw(st.integers(0, 3)),
        deny_action=draw(st.sampled_from((request.action, request.action.upper(), "*", f"{service}:*"))),
        deny_resource=draw(st.sampled_from((request.resource, "*"))),
    )


def with_matching_deny(case: DenyCase) -> list[Policy]:
    deny = _parse([{"Effect": "Deny", "Action": case.deny_action, "Resource": case.deny_resource}]).statements[0]
    placed = list(case.base.policies)
    if case.policy_slot == len(placed):
        placed.append(Policy("1", (deny,)))
    else:
        target = placed[case.policy_slot].statements
        slot = min(case.statement_slot, len(target))
        placed[case.policy_slot] = Policy("1", (*target[:slot], deny, *target[slot:]))
    return [*placed, *case.extra]


def deny_always_wins(engine: Engine, case: DenyCase) -> bool:
    """A matching Deny anywhere decides, and an explicit deny survives whatever policies are added."""
    if engine(with_matching_deny(case), case.base.request) is not Decision.EXPLICIT_DENY:
        return False
    before = engine(case.base.policies, case.base.request)
    after = engine([*case.base.policies, *case.extra], case.base.request)
    return before is not Decision.EXPLICIT_DENY or after is Decision.EXPLICIT_DENY


@dataclass(frozen=True)
class AllowCase:
    base: Case
    extra_policy: Policy  # Allow statements only
    into_policy: int  # also inserted statement-wise into this existing policy (if any), at this slot
    slot: int


allow_cases = st.builds(
    AllowCase,
    base=cases,
    extra_policy=policies(effects=("Allow",)),
    into_policy=st.integers(0, 2),
    slot=st.integers(0, 3),
)

# What adding only Allow statements may do to a decision.
_ALLOWED_TRANSITIONS = {
    Decision.ALLOW: {Decision.ALLOW},
    Decision.EXPLICIT_DENY: {Decision.EXPLICIT_DENY},
    Decision.IMPLICIT_DENY: {Decision.IMPLICIT_DENY, Decision.ALLOW},
}


def adding_allows_is_monotone(engine: Engine, case: AllowCase) -> bool:
    """Adding Allow statements, as a new policy or inside an existing one, never turns ALLOW into a deny."""
    request = case.base.request
    before = engine(case.base.policies, request)
    as_new_policy = engine([*case.base.policies, case.extra_policy], request)
    merged = list(case.base.policies)
    if case.into_policy < len(merged):
        existing = merged[case.into_policy].statements
        slot = min(case.slot, len(existing))
        merged[case.into_policy] = Policy("1", (*existing[:slot], *case.extra_policy.statements, *existing[slot:]))
    inside = engine(merged, request)
    return as_new_policy in _ALLOWED_TRANSITIONS[before] and inside in _ALLOWED_TRANSITIONS[before]


@dataclass(frozen=True)
class SessionCase:
    base: Case
    session: Policy | None


@st.composite
def session_cases(draw: st.DrawFn) -> SessionCase:
    base = draw(cases)
    own = _statements(base.policies)
    shape = draw(st.sampled_from(("none", "random", "subset")))
    if shape == "none":
        return SessionCase(base, None)
    if shape == "subset" and own:
        # Like a real session policy: part of what the identity grants, sometimes with a statement of its own.
        picked = draw(st.lists(st.sampled_from(own), min_size=1, max_size=3))
        extra = draw(st.lists(statement_documents(), max_size=1))
        return SessionCase(base, Policy("1", (*picked, *(_parse(extra).statements if extra else ()))))
    return SessionCase(base, draw(policies(effects=("Allow", "Allow", "Allow", "Deny"))))


def session_never_widens(engine: SessionEngine, case: SessionCase) -> bool:
    """ALLOW needs both the identity and the session to allow; a deny in either is explicit; no session = identity."""
    identity, session, request = case.base.policies, case.session, case.base.request
    combined = engine(identity, session, request)
    granted = evaluate(identity, request)
    if session is None:
        return combined is granted
    narrowed = evaluate([session], request)
    if combined is Decision.ALLOW and not (granted is Decision.ALLOW and narrowed is Decision.ALLOW):
        return False
    explicit = Decision.EXPLICIT_DENY in (granted, narrowed)
    return (combined is Decision.EXPLICIT_DENY) == explicit


@dataclass(frozen=True)
class OrderCase:
    base: Case
    seed: int


order_cases = st.builds(OrderCase, cases, st.integers(0, 2**32 - 1))


def shuffled(policies: Sequence[Policy], seed: int) -> list[Policy]:
    rng = random.Random(seed)
    reordered = [Policy(p.version, tuple(rng.sample(p.statements, len(p.statements)))) for p in policies]
    rng.shuffle(reordered)
    return reordered


def order_does_not_matter(engine: Engine, case: OrderCase) -> bool:
    """Shuffling statements within each policy and the policies themselves never changes the decision."""
    request = case.base.request
    forward = engine(case.base.policies, request)
    return (
        engine(shuffled(case.base.policies, case.seed), request) is forward
        and engine(list(reversed(case.base.policies)), request) is forward
    )


# --- the real engine obeys every law -----------------------------------------------------------------------

LAWS = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@LAWS
@given(deny_cases())
def test_deny_always_wins(case: DenyCase) -> None:
    event(f"without the added deny: {evaluate(case.base.policies, case.base.request)}")
    assert deny_always_wins(evaluate, case)


@LAWS
@given(allow_cases)
def test_adding_allows_never_denies(case: AllowCase) -> None:
    event(f"before: {evaluate(case.base.policies, case.base.request)}")
    assert adding_allows_is_monotone(evaluate, case)


@LAWS
@given(session_cases())
def test_session_policy_never_widens(case: SessionCase) -> None:
    event(f"with session: {evaluate_with_session(case.base.policies, case.session, case.base.request)}")
    assert session_never_widens(evaluate_with_session, case)


@LAWS
@given(order_cases)
def test_order_of_statements_and_policies_is_irrelevant(case: OrderCase) -> None:
    event(f"decision: {evaluate(case.base.policies, case.base.request)}")
    assert order_does_not_matter(evaluate, case)


def test_generated_cases_reach_every_decision() -> None:
    """Guard against vacuous laws: the generators must produce all three outcomes in bulk."""
    seen: Counter[Decision] = Counter()
    with_session: Counter[Decision] = Counter()

    @settings(max_examples=600, database=None, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(session_cases())
    def record(case: SessionCase) -> None:
        seen[evaluate(case.base.policies, case.base.request)] += 1
        if case.session is not None:
            with_session[evaluate_with_session(case.base.policies, case.session, case.base.request)] += 1

    record()
    for counter in (seen, with_session):
        total = sum(counter.values())
        # Typical shares are 10-60% each; 5% leaves room for randomness while still catching a vacuous generator.
        assert all(counter[decision] >= total // 20 for decision in Decision), counter


# --- ...and the laws catch plausible mistakes ----------------------------------------------------------------

# No shrinking: any counterexample proves the point, and shrinking these cases is slow.
HUNT = settings(
    max_examples=3000,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
    deadline=None,
)


@pytest.mark.parametrize(
    ("law", "strategy", "engine"),
    [
        (deny_always_wins, deny_cases(), first_match_wins),
        (deny_always_wins, deny_cases(), allow_overrides_deny),
        (deny_always_wins, deny_cases(), last_policy_decides),
        (adding_allows_is_monotone, allow_cases, first_match_wins),
        (adding_allows_is_monotone, allow_cases, allow_overrides_deny),
        (order_does_not_matter, order_cases, first_match_wins),
        (order_does_not_matter, order_cases, last_policy_decides),
        (session_never_widens, session_cases(), session_union),
        (session_never_widens, session_cases(), session_replaces_identity),
        (session_never_widens, session_cases(), session_only_denies),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_laws_catch_buggy_engines(
    law: Callable[[Any, Any], bool], strategy: st.SearchStrategy[Any], engine: Any
) -> None:
    counterexample = find(strategy, lambda case: not law(engine, case), settings=HUNT)
    assert not law(engine, counterexample)
    assert law(evaluate_with_session if law is session_never_widens else evaluate, counterexample)
