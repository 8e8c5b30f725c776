"""Fault rule declarations, the throttle rate, and which instance IDs a request names (pure code)."""

from __future__ import annotations

from typing import Any

import pytest

from ecsram.faults.injector import instance_ids
from ecsram.faults.rules import RuleError, document, is_rule_id, parse
from ecsram.faults.throttle import parse_rate


def test_a_minimal_error_rule_gets_defaults() -> None:
    rule = parse({"code": "ServiceUnavailable"}, 1000.0)
    assert (rule.action, rule.effect, rule.probability, rule.remaining, rule.expires_at) == (
        "*",
        "error",
        None,
        None,
        None,
    )
    assert is_rule_id(rule.rule_id)
    assert document(rule)["code"] == "ServiceUnavailable"


def test_ttl_and_expiry_times() -> None:
    assert parse({"code": "Throttling", "ttl_seconds": 30}, 1000.0).expires_at == 1030.0
    at = parse({"code": "Throttling", "expires_at": "2030-01-01T00:00:00Z"}, 0.0).expires_at
    assert at == 1893456000.0
    assert parse({"code": "Throttling", "expires_at": "2030-01-01T00:00:00"}, 0.0).expires_at == at
    with pytest.raises(RuleError, match=r"^expires_at: give ttl_seconds or expires_at"):
        parse({"code": "Throttling", "ttl_seconds": 1, "expires_at": "2030-01-01T00:00:00Z"}, 0.0)


@pytest.mark.parametrize(
    ("declared", "field"),
    [
        ({"effect": "latency", "latency_ms": 10, "status": 500}, "status"),
        ({"code": "X.Y", "status": 600}, "status"),
        ({"code": "Throttling", "probability": True}, "probability"),
        ({"code": "Throttling", "count": 1.5}, "count"),
        ({"code": "Throttling", "latency_ms": 5}, "latency_ms"),
        ({"effect": "drop", "latency_ms": 5}, "latency_ms"),
        ({"code": "A" * 65}, "code"),
        ({"code": "Throttling", "action": "*" * 129}, "action"),
    ],
)
def test_bad_declarations_name_the_field(declared: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse(declared, 0.0)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("text", "per_second", "burst"), [("10/s", 10.0, 10.0), ("600/m", 10.0, 600.0), ("1/h", 1 / 3600, 1.0)]
)
def test_rates(text: str, per_second: float, burst: float) -> None:
    rate = parse_rate(text)
    assert rate.per_second == pytest.approx(per_second) and rate.burst == burst


@pytest.mark.parametrize("text", ["", "fast", "10", "0/s", "-1/s", "10/d", "1e9/s"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate|more than 0"):
        parse_rate(text)


def test_instance_ids_from_every_form() -> None:
    params = {"InstanceId": "i-a", "InstanceIds": '["i-b", "i-c"]', "InstanceIds.1": "i-d", "Other": "i-e"}
    assert instance_ids(params) == {"i-a", "i-b", "i-c", "i-d"}
    assert instance_ids({"InstanceIds": "i-x,i-y"}) == {"i-x", "i-y"}
    assert instance_ids({}) == set()
