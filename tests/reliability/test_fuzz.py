"""The fuzz suite: every emulated operation, its parameters as the catalogue and ecsram declare
them, and the raw HTTP layer, sent signed by a fuzzing account so that requests reach validation
and the handlers, while a second account works on the same worker (its requests share the
fuzzer's group-commit batches).

Every answer: no 5xx, ``x-acs-request-id`` set, errors in the vendor's document (RequestId, HostId,
Code, Message, Recommend; JSON or XML as asked). The second account: each of its concurrent
calls succeeds, every instance it was told it created exists, and its DescribeInstances,
ListRoles and DescribeInstanceRamRole read the same before and after.

Sizes: ``tests/reliability/sizing.py`` (``ECSRAM_RELIABILITY=full`` for the full run).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import random
import string
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from ecsram.admin.operations import served_operations
from ecsram.contract.catalogue.params import (
    Boolean,
    FlatList,
    Integer,
    JsonStringList,
    Number,
    Param,
    String,
)
from ecsram.contract.operation import Operation
from ecsram.services.actiontrail import LookupAttributes
from ecsram.services.tagging import FlatTags
from ecsram.testing import clients
from ecsram.testing.accounts import create_account
from ecsram.testing.plugin import ECS_TRUST_POLICY, IMAGE, INSTANCE_TYPE
from ecsram.testing.server import ServerProcess
from tests.reliability.sizing import report, sized
from tests.support.ecs import account_trust
from tests.support.fuzzing import REGION, Findings, FuzzClient, Victim, snapshot
from tests.support.metadata import CREDENTIALS, Metadata
from tests.support.raw import RAM, STS, RawResponse, utc_timestamp

OPERATIONS = sorted(served_operations(), key=lambda op: (op.version, op.action))
VERSIONS = sorted({op.version for op in OPERATIONS})

# Requests per test at each size. Full: 60,000 + 30,000 + 12,000 stateful steps (~2 requests
# each) + 2,000 through the SDK: over 100,000 requests.
OPERATION_REQUESTS = sized(1_500, 60_000)
HTTP_REQUESTS = sized(800, 30_000)
MACHINE_RUNS, MACHINE_STEPS = sized(4, 120), sized(40, 100)
SDK_REQUESTS = sized(60, 2_000)

POLICY = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}'

# Values chosen to hit parsers' edges: integer and text limits, digits that are not ASCII,
# NUL and other controls, encoded NUL paging tokens, JSON of the wrong shape, derived overflows.
SPECIALS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x7f",
    "\r\nX-Injected: 1",
    "AA==",
    "AAAA",
    "%00",
    "²",
    "١٢",
    "１２",
    "0",
    "-1",
    "+1",
    " 1",
    "1_0",
    "1.5",
    "1e309",
    "NaN",
    "-0",
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999",
    "null",
    "true",
    "[]",
    "{}",
    "[{}]",
    '[""]',
    '["\\u0000"]',
    "[" + ",".join(['"i-x"'] * 101) + "]",
    '[{"Key":"k"}]',
    '[{"Key":"","Value":""}]',
    "\u202e",
    "\ufeff",
    "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
    "😀" * 70,
    "x" * 5000,
    "ecs.g7.99999999999999999999xlarge",
    "ecs.g7.9223372036854775807xlarge",
    "ecs.g7.0xlarge",
    "ecs..large",
    "'; DROP TABLE roles; --",
    "../../etc/passwd",
    "acs:ram::*:role/*",
    "*",
    "2026-13-45T25:61:61Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
]

hostile = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(max_size=24),
    st.text(min_size=100, max_size=1500),
    st.binary(max_size=24).map(lambda raw: raw.decode("latin-1")),
    st.integers().map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


@dataclass
class World:
    """What the fuzzer knows: its own resources and the second account's, mixed into its values."""

    server: ServerProcess
    fuzzer: FuzzClient
    fuzz_account: str
    victim_account: str
    victim_key_id: str
    instance_ids: list[str]
    role_names: list[str]
    role_arns: list[str]
    user_names: list[str]
    key_ids: list[str]
    tokens: list[str] = field(default_factory=lambda: ["AA==", "eyJ4IjoxfQ=="])

    def replenish(self) -> None:
        """Bring back what the fuzzer deleted or reset, so that its requests keep reaching handlers."""
        c = self.fuzzer
        c.v1("CreateRole", {"RoleName": "fuzz-role", "AssumeRolePolicyDocument": ECS_TRUST_POLICY}, version=RAM)
        c.v1(
            "CreateRole",
            {"RoleName": "fuzz-sts", "AssumeRolePolicyDocument": account_trust(self.fuzz_account)},
            version=RAM,
        )
        c.v1("CreateUser", {"UserName": "fuzz-user"}, version=RAM)
        listed = c.v1("DescribeInstances", {"RegionId": REGION, "PageSize": "100"})
        if listed.status == 200 and listed.json["TotalCount"] < 4:
            ran = c.v1(
                "RunInstances",
                {
                    "RegionId": REGION,
                    "ImageId": IMAGE,
                    "InstanceType": INSTANCE_TYPE,
                    "VSwitchId": "vsw-fuzz0001",
                    "Amount": "4",
                },
            )
            if ran.status == 200:
                self.instance_ids[:0] = ran.json["InstanceIdSets"]["InstanceIdSet"]
                del self.instance_ids[40:]

    def learn(self, response: RawResponse) -> None:
        """Keep paging tokens the server handed out: the fuzzer sends them back, mangled or not."""
        if response.status != 200 or len(self.tokens) > 64:
            return
        with contextlib.suppress(ValueError):
            document = response.json
            if isinstance(document, dict):
                for name in ("Marker", "NextToken"):
                    token = document.get(name)
                    if isinstance(token, str) and token and token not in self.tokens:
                        self.tokens.append(token)


@pytest.fixture
def world(server_factory: Callable[..., ServerProcess]) -> Iterator[tuple[World, Victim]]:
    # One worker: the two accounts' requests meet in the same group-commit batches.
    server = server_factory(workers=1, extra_args=("--trail",))
    fuzz_key = create_account(server.database_url)
    victim_key = create_account(server.database_url)
    fuzzer = FuzzClient(server.endpoint, fuzz_key.access_key_id, fuzz_key.secret)
    victim = FuzzClient(server.endpoint, victim_key.access_key_id, victim_key.secret)
    made = (
        (fuzzer, "fuzz", fuzz_key.account_id, ("fuzz-role",)),
        (victim, "victim", victim_key.account_id, ("victim-role", "victim-keep")),
    )
    for client, prefix, account, ecs_roles in made:
        for name in ecs_roles:
            client.ok("CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": ECS_TRUST_POLICY}, version=RAM)
        trust = account_trust(account)
        client.ok("CreateRole", {"RoleName": f"{prefix}-sts", "AssumeRolePolicyDocument": trust}, version=RAM)
        client.ok("CreateUser", {"UserName": f"{prefix}-user"}, version=RAM)
    run = {
        "RegionId": REGION,
        "ImageId": IMAGE,
        "InstanceType": INSTANCE_TYPE,
        "VSwitchId": "vsw-fuzz0001",
        "Amount": "6",
    }
    own = fuzzer.ok("RunInstances", run)["InstanceIdSets"]["InstanceIdSet"]
    theirs = victim.ok("RunInstances", run)["InstanceIdSets"]["InstanceIdSet"]
    # One of the second account's instances keeps its role throughout; the others cycle.
    victim.ok(
        "AttachInstanceRamRole",
        {"RegionId": REGION, "RamRoleName": "victim-keep", "InstanceIds": json.dumps(theirs[:1])},
    )
    fuzzer.ok(
        "AttachInstanceRamRole", {"RegionId": REGION, "RamRoleName": "fuzz-role", "InstanceIds": json.dumps(own[:2])}
    )
    victim_user_key = victim.ok("CreateAccessKey", {"UserName": "victim-user"}, version=RAM)["AccessKey"]["AccessKeyId"]
    # The fuzzer may delete or disable any key it names: its own root key is not among them.
    own_user_key = fuzzer.ok("CreateAccessKey", {"UserName": "fuzz-user"}, version=RAM)["AccessKey"]["AccessKeyId"]
    world = World(
        server=server,
        fuzzer=fuzzer,
        fuzz_account=fuzz_key.account_id,
        victim_account=victim_key.account_id,
        victim_key_id=victim_key.access_key_id,
        instance_ids=[*own, *theirs],
        role_names=["fuzz-role", "fuzz-sts", "victim-role", "victim-keep", "victim-sts", "nobody"],
        role_arns=[
            f"acs:ram::{fuzz_key.account_id}:role/fuzz-sts",
            f"acs:ram::{fuzz_key.account_id}:role/fuzz-role",
            f"acs:ram::{victim_key.account_id}:role/victim-sts",
            f"acs:ram::{victim_key.account_id}:role/victim-role",
        ],
        user_names=["fuzz-user", "victim-user"],
        key_ids=[own_user_key, victim_key.access_key_id, victim_user_key],
    )
    before = snapshot(victim)
    load = Victim(server.endpoint, victim_key.access_key_id, victim_key.secret, "victim-role", theirs[1:])
    load.start()
    try:
        yield world, load
    finally:
        load.stop()
    # The second account: all its calls answered, all its acknowledged writes there, its view unchanged.
    assert load.calls > 0
    assert not load.failures, "the second account's calls failed:\n" + "\n".join(load.failures)
    assert load.verify_created() == [], "acknowledged RunInstances whose instances are missing"
    after = snapshot(victim)
    assert after == before, "the fuzzing account changed what the second account sees"
    report("fuzz-isolation", victim_calls=load.calls, victim_instances_created=len(load.created))
    fuzzer.close()
    victim.close()


# --- requests, made fast ---------------------------------------------------------------------------------
#
# The volume tests draw their requests from a seeded ``random.Random``, not from hypothesis
# strategies: building one request of ~50 parameters through hypothesis took ~18 ms here, which
# would make the full size (100,000 requests) take hours. The seed is printed with every report;
# ``ECSRAM_FUZZ_SEED`` replays a run. Hypothesis drives the stateful test below, where its
# choice of rule sequences pays.

FUZZ_SEED = int(os.environ.get("ECSRAM_FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))

# Code points to build hostile text from: ASCII, C0 and C1 controls, Latin-1, other scripts'
# digits, bidi controls and BOM, CJK, astral planes (lone surrogates cannot be sent as UTF-8).
_ALPHABETS = [
    list(range(0x20, 0x7F)),
    [*range(0x20), 0x7F],
    list(range(0x80, 0x100)),
    [0xB2, 0xB3, 0xB9, 0x660, 0x661, 0x6F1, 0x966, 0xFF10, 0xFF11, 0x2460, 0x1D7CE],
    [0x202E, 0x200B, 0xFEFF, 0xFFFE, 0xFFFF, 0x2028],
    list(range(0x4E00, 0x4E80)),
    [0x1F600, 0x1F4A9, 0x10000, 0x10FFFF, 0xE0001],
]
_MIXED = [point for alphabet in _ALPHABETS for point in alphabet]


class Maker:
    """Requests for the fuzzer: one operation, most parameters plausible, one or two hostile."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.specials = SPECIALS

    # values

    def text(self, size: int) -> str:
        rng = self.rng
        alphabet = rng.choice([*_ALPHABETS, _MIXED, _MIXED])
        return "".join(map(chr, rng.choices(alphabet, k=size)))

    def hostile(self) -> str:
        rng = self.rng
        kind = rng.randrange(7)
        if kind <= 1:
            return rng.choice(self.specials)
        if kind == 2:
            return self.text(rng.randrange(25))
        if kind == 3:
            return self.text(rng.randrange(100, 1500))
        if kind == 4:
            return rng.randbytes(rng.randrange(25)).decode("latin-1")
        if kind == 5:
            return str(rng.randrange(-(2**70), 2**70))
        return str(rng.randrange(-(2**31), 2**31))

    def named(self, name: str) -> str | None:
        w, rng = self.world, self.rng
        choices: dict[str, list[str]] = {
            "RegionId": ["cn-hangzhou", "cn-hangzhou", "cn-shanghai", "us-west-1"],
            "ImageId": [IMAGE],
            "InstanceType": [INSTANCE_TYPE, "ecs.c7.2xlarge", "ecs.g7.99999999999999999999xlarge"],
            "VSwitchId": ["vsw-fuzz0001"],
            "InstanceId": w.instance_ids,
            "ResourceId": w.instance_ids,
            "RamRoleName": w.role_names,
            "RoleName": w.role_names,
            "RoleArn": w.role_arns,
            "UserName": w.user_names,
            "UserAccessKeyId": w.key_ids,
            "PolicyName": ["AdministratorAccess", "ReadOnlyAccess", "AliyunECSFullAccess", "fuzz-policy"],
            "PolicyType": ["System", "Custom"],
            "PolicyDocument": [POLICY],
            "Policy": [POLICY],
            "AssumeRolePolicyDocument": [ECS_TRUST_POLICY, account_trust(w.fuzz_account)],
            "NewAssumeRolePolicyDocument": [ECS_TRUST_POLICY],
            "RoleSessionName": ["fuzz", "s-1"],
            "DurationSeconds": ["900", "3600"],
            "ResourceType": ["instance", "role", "INSTANCE"],
            "Tag": ['[{"Key":"k","Value":"v"}]'],
            "Marker": w.tokens,
            "NextToken": w.tokens,
            "Status": ["Active", "Inactive", "Running"],
            "GroupName": ["fuzz-group"],
            "HttpEndpoint": ["enabled", "disabled"],
            "HttpTokens": ["optional", "required"],
            "ClientToken": ["token-a", "token-b", uuid.uuid4().hex],
            "Rule": ["{}"],
            "StartTime": ["2026-01-01T00:00:00Z"],
            "EndTime": ["2030-01-01T00:00:00Z"],
        }
        found = choices.get(name)
        return rng.choice(found) if found else None

    def plausible(self, param: Param) -> Any:
        """A value the parameter accepts, or nearly: lists as Python lists (``encode`` flattens them)."""
        rng, w = self.rng, self.world
        if isinstance(param, FlatTags | LookupAttributes):
            keys = ["k", "EventName", "ResourceName", "Username"]
            values = ["v", "DescribeRegions", "fuzz-role"]
            return [(rng.choice(keys), rng.choice(values)) for _ in range(rng.randint(1, 3))]
        if isinstance(param, FlatList):
            return [self.named(param.name) or rng.choice(w.instance_ids) for _ in range(rng.randint(1, 3))]
        if isinstance(param, JsonStringList):
            pool = w.instance_ids if "Instance" in param.name else ["k", "fuzz-role", "d-1"]
            return json.dumps([rng.choice(pool) for _ in range(rng.randint(1, 4))])
        named = self.named(param.name)
        if named is not None:
            return named
        if isinstance(param, Integer):
            edges = [
                v for v in (param.minimum, param.maximum, 1, 2, 10, 50, 100) if param.minimum <= v <= param.maximum
            ]
            return str(rng.choice(edges))
        if isinstance(param, Boolean):
            return rng.choice(["true", "false"])
        if isinstance(param, Number):
            return rng.choice(["0.5", "1", "100"])
        if isinstance(param, String) and param.choices:
            return rng.choice(param.choices)
        return rng.choice(["fuzz-value", "x", "fuzz-role", "i-0"])

    # requests

    def operation_request(self) -> tuple[Operation, dict[str, str], str]:
        rng = self.rng
        op = rng.choice(OPERATIONS)
        declared = list(op.params.params)
        targets = {p.name for p in rng.sample(declared, k=min(len(declared), rng.choice((0, 1, 1, 1, 2))))}
        params: dict[str, str] = {}
        for param in declared:
            listed = isinstance(param, FlatList | FlatTags | LookupAttributes)
            if param.name in targets:
                if listed and rng.random() < 0.5:
                    index = rng.choice(["0", "101", "²", "１", "-1", "1.Key.X", "", "x", "99999999999999999999", "1 "])
                    params[f"{param.name}.{index}"] = self.hostile()
                elif listed:
                    params[f"{param.name}.1"] = self.hostile()
                else:
                    params[param.name] = self.hostile()
            elif param.required or rng.random() < 0.33:
                params.update(encode(param, self.plausible(param)))
        if rng.random() < 0.1:
            extra = rng.choice([self.text(rng.randint(1, 20)), "Format", "Action.1", "Version", "SecurityToken"])
            params.setdefault(extra, self.hostile())
        transport = rng.choice(["v1-get", "v1-get", "v1-post", "v3", "v1-xml"])
        return op, params, transport

    def http_request(self) -> tuple[str, str, bytes, dict[str, str]]:
        """Method, target, body, headers: a signed call bent out of shape, or raw bytes. Some are
        not HTTP at all (an unknown method, a control character in a header): see ``not_http``."""
        rng, c = self.rng, self.world.fuzzer
        method = rng.choice(METHODS)
        op = rng.choice(OPERATIONS)
        shape = rng.choice(["signed-query", "signed-body", "mangled", "raw", "path", "v3"])
        headers: dict[str, str] = {}
        body = b""
        target = "/"
        if shape in ("signed-query", "signed-body", "mangled"):
            names = rng.sample(["RegionId", "InstanceIds", "RoleName", "Marker", "PageNumber"], k=rng.randint(0, 2))
            signed = c.signer.signed_params(
                {"Action": op.action, "Version": op.version} | {n: self.hostile() for n in names}
            )
            if shape == "mangled":
                name = rng.choice([*sorted(signed), "Action", "signature", "ACTION"])
                mutation = rng.choice(["drop", "blank", "hostile", "duplicate"])
                if mutation == "drop":
                    signed.pop(name, None)
                elif mutation == "blank":
                    signed[name] = ""
                elif mutation == "hostile":
                    signed[name] = self.hostile()
            pairs = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in signed.items())
            if shape == "mangled" and rng.random() < 0.5:
                pairs += "&" + pairs.split("&", 1)[0]  # a parameter twice
            if shape == "signed-body" or (shape == "mangled" and rng.random() < 0.5):
                body = pairs.encode()
                headers["Content-Type"] = rng.choice(CONTENT_TYPES)
            else:
                target = "/?" + pairs
        elif shape == "raw":
            raw = rng.randbytes(rng.randrange(200))
            target = "/?" + _percent(raw, lower=rng.random() < 0.5, plus=rng.random() < 0.5)
            body = rng.randbytes(rng.randrange(300))
            headers["Content-Type"] = rng.choice(CONTENT_TYPES)
        elif shape == "path":
            fixed = ["//", "/?", "/#", "/%2F", "/./", "/..%2F..", "/api", "/%00", "/_ecsram/health", "/_ecsram/ready"]
            target = rng.choice([*fixed, "/_ecsram/nothing", "/" + quote(self.text(rng.randrange(40)), safe="/")])
        else:  # a V3 request with its headers bent
            headers = {
                "x-acs-action": op.action,
                "x-acs-version": op.version,
                "x-acs-date": rng.choice(["2026-01-01T00:00:00Z", "", "now", utc_timestamp()]),
                "x-acs-signature-nonce": uuid.uuid4().hex,
                "Authorization": rng.choice(
                    [
                        f"ACS3-HMAC-SHA256 Credential={c.access_key_id},SignedHeaders=host,Signature=00",
                        "ACS3-HMAC-SHA256",
                        "",
                        "Bearer x",
                    ]
                ),
            }
            body = rng.randbytes(rng.randrange(100))
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            name = rng.choice(HEADER_NAMES) if rng.random() < 0.6 else _header_name(rng)
            headers[name] = "".join(map(chr, rng.choices(_HEADER_CHARS, k=rng.randrange(60))))
        if body and rng.random() < 0.15:
            headers["Transfer-Encoding"] = "chunked"
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        return method, target, body, headers


def encode(param: Param, value: Any) -> dict[str, str]:
    if isinstance(param, FlatTags | LookupAttributes):
        flat: dict[str, str] = {}
        for index, (key, item) in enumerate(value, 1):
            flat[f"{param.name}.{index}.Key"] = key
            flat[f"{param.name}.{index}.Value"] = item
        return flat
    if isinstance(param, FlatList):
        return {f"{param.name}.{index}": item for index, item in enumerate(value, 1)}
    return {param.name: value}


def send_operation(world: World, op: Operation, params: dict[str, str], transport: str) -> RawResponse:
    c = world.fuzzer
    reserved = {
        "Action",
        "Version",
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "Signature",
    }
    params = {k: v for k, v in params.items() if k not in reserved}
    if transport == "v3":
        return c.v3(op.action, params, version=op.version)
    method = "POST" if transport == "v1-post" else "GET"
    return c.v1(op.action, params, version=op.version, method=method, xml=transport == "v1-xml")


def test_every_operation_with_fuzzed_parameters(world: tuple[World, Victim]) -> None:
    the_world, _load = world
    findings = Findings()
    maker = Maker(random.Random(FUZZ_SEED), the_world)
    started = time.monotonic()
    for n in range(OPERATION_REQUESTS):
        op, params, transport = maker.operation_request()
        response = send_operation(the_world, op, params, transport)
        the_world.learn(response)
        findings.record(response, f"{transport} {op.action} {params!r}")
        if n % 400 == 399:
            the_world.replenish()
    reached = findings.codes.get("200", 0)
    report(
        "fuzz-operations",
        seed=FUZZ_SEED,
        requests=findings.sent,
        seconds=round(time.monotonic() - started, 1),
        answered_200=reached,
        failures=findings.failures,
        codes=_top(findings.codes),
    )
    assert not findings.failures, f"seed {FUZZ_SEED}: " + findings.report()
    assert reached > findings.sent // 20, "too few fuzzed requests got past validation to a handler"


# --- the raw HTTP layer ---------------------------------------------------------------------------------

METHODS = ["GET", "GET", "GET", "POST", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "FUZZ"]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=ISO-8859-1",
    "application/x-www-form-urlencoded;charset=utf-16",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    "application/x-www-form-urlencoded; charset=\x7f",
]
HEADER_NAMES = [
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
    "Authorization",
    "Content-Encoding",
    "Accept",
    "Accept-Language",
    "Expect",
    "Proxy-Authorization",
    "X-Forwarded-For",
    "Connection",
]
_HEADER_CHARS = [n for n in range(32, 256) if n != 0x7F] + [0x09]
_TOKEN_CHARS = string.ascii_letters + string.digits + "-"


def _header_name(rng: random.Random) -> str:
    return rng.choice(string.ascii_letters) + "".join(rng.choices(_TOKEN_CHARS, k=rng.randrange(20)))


def _percent(raw: bytes, *, lower: bool, plus: bool) -> str:
    out = []
    for byte in raw:
        char = chr(byte)
        if char in string.ascii_letters + string.digits + "-_.~=&":
            out.append(char)
        elif plus and char == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02x}" if lower else f"%{byte:02X}")
    return "".join(out)


KNOWN_METHODS = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"}
CONTROL = {chr(n) for n in range(32) if n != 0x09} | {"\x7f"}


def not_http(method: str, headers: dict[str, str]) -> bool:
    """Requests the HTTP parser (httptools, under uvicorn) refuses before ecsram sees them: a method
    it does not know, a control character in a header value. It answers a plain-text 400 and
    closes the connection; no vendor document is possible, since no API request was read."""
    return method not in KNOWN_METHODS or any(CONTROL & set(value) for value in headers.values())


def test_raw_http_layer(world: tuple[World, Victim]) -> None:
    the_world, _load = world
    findings = Findings()
    maker = Maker(random.Random(FUZZ_SEED + 1), the_world)
    refused_by_parser = 0
    started = time.monotonic()
    for _ in range(HTTP_REQUESTS):
        method, target, body, headers = maker.http_request()
        try:
            response = the_world.fuzzer.send(method, target, body, headers)
        except (http.client.HTTPException, OSError) as exc:
            findings.failures.setdefault("no answer", []).append(f"{method} {target[:200]} {headers!r}: {exc!r}")
            continue
        what = f"{method} {target[:300]} {headers!r} {body[:200]!r}"
        if not_http(method, headers):
            refused_by_parser += 1
            findings.sent += 1
            if response.status != 400:
                findings.failures.setdefault("not HTTP, yet not a 400", []).append(f"{what} -> {response.status}")
            continue
        findings.record(response, what, method=method, api=not target.startswith("/_ecsram/"))
    report(
        "fuzz-http",
        seed=FUZZ_SEED + 1,
        requests=findings.sent,
        seconds=round(time.monotonic() - started, 1),
        refused_by_http_parser=refused_by_parser,
        failures=findings.failures,
        codes=_top(findings.codes),
    )
    assert not findings.failures, f"seed {FUZZ_SEED + 1}: " + findings.report()


FUZZ = settings(
    deadline=None,
    database=None,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
)


# --- stateful: the fuzzing account builds, binds, fetches credentials, tears down ---------------------


class AccountMachine(RuleBasedStateMachine):
    """Roles and instances made with fuzzed attributes, bound and unbound, credentials fetched
    through the metadata service and STS, and the account's own view checked against a model."""

    world: World
    findings: Findings

    roles = Bundle("roles")
    instances = Bundle("instances")

    def __init__(self) -> None:
        super().__init__()
        self.client = self.world.fuzzer
        self.bound: dict[str, str] = {}
        self.existing_roles: set[str] = set()

    def _send(self, action: str, params: dict[str, str], *, version: str = "2014-05-26") -> RawResponse:
        response = self.client.v1(action, params, version=version)
        self.findings.record(response, f"{action} {params!r}")
        return response

    @initialize()
    def sts_role(self) -> None:
        self.world.replenish()  # the role AssumeRole uses, whatever earlier runs deleted

    @rule(
        target=roles,
        name=st.one_of(st.from_regex(r"[A-Za-z0-9.-]{1,64}", fullmatch=True), hostile),
        trust=st.sampled_from(["ecs", "account", "hostile"]),
    )
    def create_role(self, name: str, trust: str) -> str:
        document = {"ecs": ECS_TRUST_POLICY, "account": account_trust(self.world.fuzz_account)}.get(trust, "{" + name)
        response = self._send("CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": document}, version=RAM)
        if response.status == 200:
            self.existing_roles.add(name)
        return name

    @rule(
        target=instances,
        instance_type=st.one_of(
            st.sampled_from([INSTANCE_TYPE, "ecs.g7.99999999999999999999xlarge", "ecs.r7.16xlarge"]), hostile
        ),
        amount=st.sampled_from(["1", "2", "0", "101", "²"]),
        token=st.sampled_from(["", "t1", "t2"]),
    )
    def run_instances(self, instance_type: str, amount: str, token: str) -> str:
        params = {
            "RegionId": REGION,
            "ImageId": IMAGE,
            "InstanceType": instance_type,
            "VSwitchId": "vsw-fuzz0001",
            "Amount": amount,
        }
        if token:
            params["ClientToken"] = token
        response = self._send("RunInstances", params)
        if response.status == 200:
            ids: list[str] = response.json["InstanceIdSets"]["InstanceIdSet"]
            if token:  # a retry with the same token answers the same instances
                again = self._send("RunInstances", params)
                assert again.status != 200 or again.json["InstanceIdSets"]["InstanceIdSet"] == ids
            return ids[0]
        return "i-missing"

    @rule(role=roles, instance=instances)
    def attach(self, role: str, instance: str) -> None:
        response = self._send(
            "AttachInstanceRamRole", {"RegionId": REGION, "RamRoleName": role, "InstanceIds": json.dumps([instance])}
        )
        if (
            response.status == 200
            and response.json["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"][0]["Success"]
        ):
            assert instance not in self.bound, f"{instance} took a second role"
            self.bound[instance] = role

    @rule(instance=instances)
    def detach(self, instance: str) -> None:
        response = self._send("DetachInstanceRamRole", {"RegionId": REGION, "InstanceIds": json.dumps([instance])})
        if (
            response.status == 200
            and response.json["DetachInstanceRamRoleResults"]["DetachInstanceRamRoleResult"][0]["Success"]
        ):
            self.bound.pop(instance, None)

    @rule(role=roles)
    def delete_role(self, role: str) -> None:
        response = self._send("DeleteRole", {"RoleName": role}, version=RAM)
        if response.status == 200:
            self.existing_roles.discard(role)
            assert role not in self.bound.values(), "a role in use was deleted"

    @rule(instance=instances)
    def delete_instance(self, instance: str) -> None:
        response = self._send("DeleteInstance", {"InstanceId": instance, "Force": "true"})
        if response.status == 200:
            self.bound.pop(instance, None)

    @rule(
        page=st.sampled_from(["1", "2", "9223372036854775807", "2147483648", "0"]),
        size=st.sampled_from(["1", "10", "100", "101"]),
    )
    def describe(self, page: str, size: str) -> None:
        self._send("DescribeInstances", {"RegionId": REGION, "PageNumber": page, "PageSize": size})

    @rule(marker=st.sampled_from(["", "AA==", "AAAA", "%00"]), items=st.sampled_from(["1", "2", "1000", "1001"]))
    def list_roles(self, marker: str, items: str) -> None:
        params = {"MaxItems": items, **({"Marker": marker} if marker else {})}
        response = self._send("ListRoles", params, version=RAM)
        if response.status == 200 and response.json.get("IsTruncated"):
            self._send("ListRoles", {"MaxItems": items, "Marker": response.json["Marker"]}, version=RAM)

    @rule(instance=instances, ttl=st.sampled_from(["21600", "1", "0", "\xb2", "21601", "1e3", " 60"]))
    def metadata_credentials(self, instance: str, ttl: str) -> None:
        metadata = Metadata(self.world.server.endpoint, instance)
        answer = metadata.request("PUT", "/latest/api/token", {"X-aliyun-ecs-metadata-token-ttl-seconds": ttl})
        self.findings.record(
            RawResponse(answer.status, answer.headers, answer.body), f"metadata token TTL {ttl!r}", api=False
        )
        token = answer.text if answer.status == 200 else None
        role = self.bound.get(instance)
        got = metadata.get(CREDENTIALS + (role or ""), token)
        self.findings.record(
            RawResponse(got.status, got.headers, got.body), f"metadata credentials of {instance}", api=False
        )
        if role is not None and got.status == 200 and role != "":
            assert '"AccessKeyId"' in got.text

    @rule(session=st.one_of(st.sampled_from(["s", "a" * 64]), hostile))
    def assume_role(self, session: str) -> None:
        arn = f"acs:ram::{self.world.fuzz_account}:role/fuzz-sts"
        response = self._send("AssumeRole", {"RoleArn": arn, "RoleSessionName": session}, version=STS)
        if response.status == 200:
            credentials = response.json["Credentials"]
            sts = FuzzClient(
                self.world.server.endpoint,
                credentials["AccessKeyId"],
                credentials["AccessKeySecret"],
                security_token=credentials["SecurityToken"],
            )
            try:
                answer = sts.v1("GetCallerIdentity", {}, version=STS)
                self.findings.record(answer, "GetCallerIdentity as a role session")
                assert answer.status == 200
            finally:
                sts.close()

    @invariant()
    def bindings_match(self) -> None:
        if not self.bound or len(self.bound) % 3 or len(self.bound) > 50:
            return  # checked now and then: it costs a request
        ids = sorted(self.bound)
        response = self._send(
            "DescribeInstanceRamRole", {"RegionId": REGION, "InstanceIds": json.dumps(ids), "PageSize": "50"}
        )
        assert response.status == 200
        seen = {
            item["InstanceId"]: item["RamRoleName"]
            for item in response.json["InstanceRamRoleSets"]["InstanceRamRoleSet"]
        }
        assert seen == self.bound


def test_stateful_account(world: tuple[World, Victim]) -> None:
    the_world, _load = world
    findings = Findings()
    AccountMachine.world = the_world
    AccountMachine.findings = findings
    run_state_machine_as_test(
        AccountMachine,
        settings=settings(FUZZ, max_examples=MACHINE_RUNS, stateful_step_count=MACHINE_STEPS),
    )
    report("fuzz-stateful", requests=findings.sent, failures=findings.failures, codes=_top(findings.codes))
    assert not findings.failures, findings.report()


# --- through the official SDK ----------------------------------------------------------------------------


def test_fuzzed_parameters_through_the_official_sdk(world: tuple[World, Victim]) -> None:
    """aliyun-python-sdk-core's CommonRequest with fuzzed parameters: the SDK reads every error."""
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
    from aliyunsdkcore.request import CommonRequest

    the_world, _load = world
    logging.getLogger("aliyunsdkcore").setLevel(logging.CRITICAL)  # it logs every error answer
    sdk_client = clients.v1_client(the_world.fuzzer.access_key_id, the_world.fuzzer.secret)
    sent = 0
    failures: list[str] = []

    maker = Maker(random.Random(FUZZ_SEED + 2), the_world)
    for _ in range(SDK_REQUESTS):
        op, params, _transport = maker.operation_request()
        call = CommonRequest(domain=the_world.server.endpoint, version=op.version, action_name=op.action)
        call.set_protocol_type("http")
        call.set_method("POST")
        for name, value in params.items():
            if "\x00" in name or name in ("Action", "Version", "Format", "Signature", "AccessKeyId", "SignatureNonce"):
                continue
            call.add_query_param(name, value)
        sent += 1
        try:
            sdk_client.do_action_with_exception(call)
        except ServerException as exc:
            if exc.get_http_status() >= 500 or not exc.get_error_code() or not exc.get_request_id():
                status, code = exc.get_http_status(), exc.get_error_code()
                failures.append(f"{op.action} {params!r} -> {status} {code} {exc.get_error_msg()}"[:800])
        except ClientException as exc:  # the SDK refusing to send (e.g. a parameter it cannot encode)
            if exc.get_error_code() not in ("SDK.InvalidRequest", "SDK.EncodeError"):
                failures.append(f"{op.action} {params!r} -> SDK {exc.get_error_code()} {exc.get_error_msg()}"[:800])
        except (UnicodeError, ValueError):
            pass  # the SDK cannot encode the value: nothing was sent

    report("fuzz-sdk", requests=sent, failures=failures[:10])
    assert not failures, "\n".join(failures[:10])


def _top(codes: dict[str, int], n: int = 15) -> dict[str, int]:
    return dict(sorted(codes.items(), key=lambda item: -item[1])[:n])


@pytest.fixture(autouse=True)
def _versions_known() -> None:
    assert set(VERSIONS) >= {"2014-05-26", RAM, STS}
