"""One caller must never hurt another: poison inputs get a clear 4xx of their own, and while one
account loops them, another account sharing the same worker (and so the same group-commit
transactions) sees every request succeed and every acknowledged write committed.

The inputs are those that broke group commit before (issue 13): a huge instance type whose derived
CPU and memory could not be rendered, paging tokens that decode to NUL, page numbers at int64 max,
Unicode digits in list indexes and in the metadata token TTL, a NUL in the metadata proxy user.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import pytest

from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.ecs import ECS_TRUST, IMAGE, INSTANCE_TYPE, REGION, create_role, run_instances
from tests.support.metadata import Metadata
from tests.support.raw import ECS, RAM, RawClient, RawResponse, rfc3986

ACTIONTRAIL = "2020-07-06"
HUGE_TYPE = "ecs.g7.99999999999999999999xlarge"
INT64_MAX = str(2**63 - 1)
# Latin-1 superscript two: str.isdigit() says yes, int() says no.
SUPERSCRIPT_TWO = "\u00b2"


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


@dataclass(frozen=True)
class Poison:
    """A request one caller sends, and the 4xx (status, code) it must get."""

    name: str
    action: str
    version: str
    params: dict[str, str]
    status: int
    code: str


def _poisons() -> list[Poison]:
    run = {"RegionId": REGION, "ImageId": IMAGE, "VSwitchId": "vsw-test0001"}
    return [
        Poison("huge instance type", "RunInstances", ECS, {**run, "InstanceType": HUGE_TYPE}, 403, "InvalidInstanceType.ValueNotSupported"),
        Poison("huge instance type (create)", "CreateInstance", ECS, {**run, "InstanceType": HUGE_TYPE}, 404, "InvalidInstanceType.ValueNotSupported"),
        Poison("Marker decoding to NUL", "ListRoles", RAM, {"Marker": "AA=="}, 400, "InvalidParameter.Marker"),
        Poison("Marker with a control character", "ListUsers", RAM, {"Marker": _token("u\x01")}, 400, "InvalidParameter.Marker"),
        Poison("NextToken decoding to NUL", "DescribeInstances", ECS, {"RegionId": REGION, "NextToken": "AA=="}, 400, "InvalidParameter"),
        Poison("NextToken holding NUL", "DescribeInstances", ECS, {"RegionId": REGION, "NextToken": _token("i-\x00x")}, 400, "InvalidParameter"),
        Poison("tag NextToken holding an escaped NUL", "ListTagResources", ECS, {"RegionId": REGION, "ResourceType": "instance", "NextToken": _token('["i-x","\\u0000"]')}, 403, "Invalid.NextToken"),
        Poison("trail NextToken holding NUL", "LookupEvents", ACTIONTRAIL, {"NextToken": _token("1700000000000|\x00")}, 400, "InvalidQueryParameter"),
        Poison("PageNumber at int64 max", "DescribeInstances", ECS, {"RegionId": REGION, "PageNumber": INT64_MAX}, 400, "InvalidParameter"),
        Poison("PageNumber at int64 max (role bindings)", "DescribeInstanceRamRole", ECS, {"RegionId": REGION, "InstanceIds": '["i-x"]', "PageNumber": INT64_MAX}, 400, "InvalidParameter"),
        Poison("PageNumber at int64 max (maintenance)", "DescribeInstanceMaintenanceAttributes", ECS, {"RegionId": REGION, "PageNumber": INT64_MAX}, 400, "InvalidParameter"),
        Poison("PageNumber beyond int64", "DescribeInstanceRamRole", ECS, {"RegionId": REGION, "InstanceIds": '["i-x"]', "PageNumber": "9" * 30}, 400, "InvalidParameter"),
        Poison("Unicode digit as a list index", "DeleteInstances", ECS, {"RegionId": REGION, f"InstanceId.{SUPERSCRIPT_TWO}": "i-x"}, 400, "InvalidParameter"),
        Poison("Unicode digit as a list index (maintenance)", "DescribeInstanceMaintenanceAttributes", ECS, {"RegionId": REGION, f"InstanceId.{SUPERSCRIPT_TWO}": "i-x"}, 400, "InvalidParameter"),
        Poison("Unicode digit as a tag index", "TagResources", ECS, {"RegionId": REGION, "ResourceType": "instance", "ResourceId.1": "i-x", f"Tag.{SUPERSCRIPT_TWO}.Key": "k"}, 400, "InvalidParameter"),
        Poison("Unicode digit as a resource index", "ListTagResources", ECS, {"RegionId": REGION, "ResourceType": "instance", f"ResourceId.{SUPERSCRIPT_TWO}": "i-x"}, 400, "InvalidParameter"),
        Poison("Arabic-Indic digit as a list index", "DeleteInstances", ECS, {"RegionId": REGION, "InstanceId.\u0663": "i-x"}, 400, "InvalidParameter"),
        Poison("a list index of 5,000 digits", "DeleteInstances", ECS, {"RegionId": REGION, "InstanceId." + "1" * 5000: "i-x"}, 403, "InvalidParameter.TooManyInstanceIds"),
        Poison("NUL in a value", "CreateRole", RAM, {"RoleName": "r\x00", "AssumeRolePolicyDocument": "{}"}, 400, "InvalidParameter.Encoding"),
        Poison("a control character in a value", "DescribeInstances", ECS, {"RegionId": REGION, "InstanceName": "a\x01b"}, 400, "InvalidParameter.Encoding"),
        Poison("a control character in a name", "DescribeInstances", ECS, {"RegionId": REGION, "Tag\x1b": "x"}, 400, "InvalidParameter.Encoding"),
        Poison("DEL in a value", "ListRoles", RAM, {"Marker": "\x7f"}, 400, "InvalidParameter.Encoding"),
        Poison("escaped control character in a JSON tag", "CreateRole", RAM, {"RoleName": "r-tag", "AssumeRolePolicyDocument": ECS_TRUST, "Tag": '[{"Key": "k", "Value": "\\u0001"}]'}, 400, "InvalidParameter.TagValue"),
        Poison("escaped NUL in a JSON tag key", "CreateRole", RAM, {"RoleName": "r-tag", "AssumeRolePolicyDocument": ECS_TRUST, "Tag": '[{"Key": "k\\u0000", "Value": "v"}]'}, 400, "InvalidParameter.TagKey"),
        Poison("escaped NUL in a JSON list", "DescribeInstances", ECS, {"RegionId": REGION, "InstanceIds": '["i-\\u0000"]'}, 400, "InvalidInstanceIds.Malformed"),
    ]  # fmt: skip


POISONS = _poisons()


def _check_poison(client: RawClient, poison: Poison) -> RawResponse:
    response = client.v1(poison.action, poison.params, version=poison.version)
    body = response.json
    assert (response.status, body.get("Code")) == (poison.status, poison.code), (poison.name, response.body)
    assert body["Message"] and body["RequestId"] == response.headers["x-acs-request-id"]
    return response


@pytest.mark.parametrize("poison", POISONS, ids=[p.name for p in POISONS])
def test_each_poison_input_gets_a_clear_4xx(sdk: Sdk, poison: Poison) -> None:
    _check_poison(sdk.raw(), poison)
    # And the caller's next, ordinary request is unaffected.
    assert sdk.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200


def test_the_form_body_is_checked_like_the_query(sdk: Sdk) -> None:
    response = sdk.raw().v1("ListRoles", {"Marker": "AA=="}, version=RAM, method="POST", form=True)
    assert (response.status, response.code) == (400, "InvalidParameter.Marker")
    response = sdk.raw().v1("ListRoles", {"Marker": "a\x00"}, version=RAM, method="POST", form=True)
    assert (response.status, response.code) == (400, "InvalidParameter.Encoding")


def test_tab_newline_and_carriage_return_are_still_accepted(sdk: Sdk) -> None:
    role = f"ws-{uuid.uuid4().hex[:6]}"
    document = '{\r\n\t"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",\n'
    document += '\t"Principal": {"Service": ["ecs.aliyuncs.com"]}}], "Version": "1"}'
    response = sdk.raw().v1("CreateRole", {"RoleName": role, "AssumeRolePolicyDocument": document}, version=RAM)
    assert response.status == 200, response.body


def test_a_huge_instance_type_creates_nothing_and_the_region_still_lists(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    poison = next(p for p in POISONS if p.action == "RunInstances")
    _check_poison(sdk.raw(), poison)
    listed = sdk.raw().v1("DescribeInstances", {"RegionId": REGION})
    assert listed.status == 200, listed.body
    assert [i["InstanceId"] for i in listed.json["Instances"]["Instance"]] == [instance_id]


@pytest.mark.parametrize("ttl", [SUPERSCRIPT_TWO, "6" + SUPERSCRIPT_TWO, "\u0663", "\uff16\uff10", "9" * 30])
def test_metadata_token_ttl_in_other_digits_is_400(sdk: Sdk, ttl: str) -> None:
    (instance_id,) = run_instances(sdk, 1)
    # A header travels as bytes: Latin-1 where it can, else the UTF-8 bytes (as the server sees them).
    header = ttl if all(ord(ch) < 256 for ch in ttl) else ttl.encode().decode("latin-1")
    answer = Metadata(sdk.endpoint, instance_id).token(header)
    assert answer.status == 400, answer.body
    assert b"must be an integer" in answer.body


@pytest.mark.parametrize("user", ["i-\x00abc", "\x00", "i-abc\x01", "i-\x7f"])
def test_metadata_proxy_user_with_control_characters_is_refused(sdk: Sdk, user: str) -> None:
    answer = Metadata(sdk.endpoint, user).get("/latest/meta-data/instance-id")
    assert answer.status == 407, answer.body
    assert answer.headers.get("proxy-authenticate", "").startswith("Basic")


@pytest.mark.parametrize("byte", [b"\x00", b"\x01", b"\x1b", b"\x7f"])
def test_control_characters_in_headers_are_refused_by_the_http_parser(sdk: Sdk, byte: bytes) -> None:
    """A signature nonce or AccessKeyId in a header never reaches the store with one: the HTTP layer
    answers 400 before any ecsram code runs."""
    host, port = sdk.endpoint.rsplit(":", 1)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nx-acs-signature-nonce: n" + byte + b"\r\n"
    head += b"authorization: ACS3-HMAC-SHA256 Credential=LTAI" + byte + b",SignedHeaders=host,Signature=ab\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head)
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 "), answer


# --- two accounts on one worker -------------------------------------------------------------------

_BATCH_LINE = re.compile(r"group commit: (\d+) requests, (\d+) committed, accounts \[([^\]]*)\]")


@dataclass(frozen=True)
class Wire:
    """One request as it goes on the wire, and what its answer must be."""

    method: str
    target: str
    headers: dict[str, str]
    expect: Callable[[int, bytes], str | None]  # None when the answer is right, else what is wrong


async def _send_together(endpoint: str, requests: list[Wire]) -> list[tuple[int, bytes]]:
    """Each request on its own connection, opened first and then written all at once: they reach
    the worker in the same turns of its event loop, so group commit puts them in shared
    transactions."""
    host, port = endpoint.rsplit(":", 1)
    connections = await asyncio.gather(*(asyncio.open_connection(host, int(port)) for _ in requests))
    for request, (_reader, writer) in zip(requests, connections, strict=True):
        headers = {"Host": endpoint, "Content-Length": "0", **request.headers}
        head_lines = [f"{request.method} {request.target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1"))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        body = await reader.readexactly(int(length.group(1))) if length else b""
        writer.close()
        return int(head.split()[1]), body

    return list(await asyncio.gather(*(answer(reader, writer) for reader, writer in connections)))


def _signed(
    client: RawClient, action: str, params: dict[str, str], version: str, expect: Callable[[int, bytes], str | None]
) -> Wire:
    signed = client.v1_params(action, params, version=version)
    target = "/?" + "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in signed.items())
    return Wire("GET", target, {}, expect)


def _ok(status: int, body: bytes) -> str | None:
    return None if status == 200 else f"{status} {body[:300]!r}"


def _refused_as(poison: Poison) -> Callable[[int, bytes], str | None]:
    def expect(status: int, body: bytes) -> str | None:
        code = orjson.loads(body).get("Code") if body.startswith(b"{") else None
        return None if (status, code) == (poison.status, poison.code) else f"{poison.name}: {status} {body[:300]!r}"

    return expect


def _poison_wires(attacker: Sdk, instance_id: str) -> list[Wire]:
    client = attacker.raw()
    wires = [_signed(client, p.action, p.params, p.version, _refused_as(p)) for p in POISONS]
    # The region the huge instance type tried to fill still lists.
    wires.append(_signed(client, "DescribeInstances", {"RegionId": REGION}, ECS, _ok))
    user = base64.b64encode(f"{instance_id}:".encode()).decode()
    metadata_headers = {
        "Host": "100.100.100.200",
        "Proxy-Authorization": f"Basic {user}",
        "X-aliyun-ecs-metadata-token-ttl-seconds": "\xb2",
    }
    ttl = Wire(
        "PUT",
        "http://100.100.100.200/latest/api/token",
        metadata_headers,
        lambda status, body: None if status == 400 else f"TTL {status} {body!r}",
    )
    nul_user = base64.b64encode(b"i-\x00x:").decode()
    proxy = Wire(
        "GET",
        "http://100.100.100.200/latest/meta-data/instance-id",
        {"Host": "100.100.100.200", "Proxy-Authorization": f"Basic {nul_user}"},
        lambda status, body: None if status == 407 else f"proxy user {status} {body!r}",
    )
    return [*wires, ttl, proxy]  # fmt: skip


def test_poison_from_one_account_never_fails_or_loses_another_accounts_writes(
    server_factory: Callable[..., ServerProcess],
) -> None:
    # One worker: every request shares its event loop and so its group-commit batches. The debug
    # log names the accounts of each batch, which shows that the two accounts' requests did mix.
    server = server_factory(workers=1, extra_args=("--log-level", "debug"))
    victim = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    attacker = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    role = f"iso-{uuid.uuid4().hex[:6]}"
    create_role(victim, role)
    writers, rounds = 6, 10
    own = run_instances(victim, writers)
    (attacker_instance,) = run_instances(attacker, 1)
    client = victim.raw()
    run = {"RegionId": REGION, "ImageId": IMAGE, "InstanceType": INSTANCE_TYPE, "VSwitchId": "vsw-test0001"}

    failures: list[str] = []
    acknowledged: list[str] = []
    for _round in range(rounds):
        tokens = [uuid.uuid4().hex for _ in range(writers)]
        # Phase 1: new instances (with a ClientToken) and attach, beside every poison input.
        creates = [_signed(client, "RunInstances", {**run, "ClientToken": t}, ECS, _ok) for t in tokens]
        attaches = [
            _signed(client, "AttachInstanceRamRole", {"RegionId": REGION, "RamRoleName": role, "InstanceIds": json.dumps([i])}, ECS, _ok)
            for i in own
        ]  # fmt: skip
        wires = [*creates, *attaches, *_poison_wires(attacker, attacker_instance)]
        answers = asyncio.run(_send_together(server.endpoint, wires))
        failures += [problem for wire, answer in zip(wires, answers, strict=True) if (problem := wire.expect(*answer))]
        created = [
            orjson.loads(body)["InstanceIdSets"]["InstanceIdSet"]
            for (status, body) in answers[:writers]
            if status == 200
        ]
        acknowledged += [ids[0] for ids in created]
        # Phase 2: the same RunInstances again (the same instance, nothing new) and detach.
        retries = [_signed(client, "RunInstances", {**run, "ClientToken": t}, ECS, _ok) for t in tokens]
        detaches = [
            _signed(client, "DetachInstanceRamRole", {"RegionId": REGION, "InstanceIds": json.dumps([i])}, ECS, _ok)
            for i in own
        ]
        wires = [*retries, *detaches, *_poison_wires(attacker, attacker_instance)]
        again = asyncio.run(_send_together(server.endpoint, wires))
        failures += [problem for wire, answer in zip(wires, again, strict=True) if (problem := wire.expect(*answer))]
        for (status, body), first in zip(again[:writers], created, strict=False):
            if status == 200 and orjson.loads(body)["InstanceIdSets"]["InstanceIdSet"] != first:
                failures.append(f"a ClientToken retry made another instance: {body!r}")
        for status, body in answers[writers : 2 * writers] + again[writers : 2 * writers]:
            if status == 200 and orjson.loads(body).get("FailCount", 0) != 0:
                failures.append(f"attach/detach failed in part: {body!r}")  # fmt: skip

    assert not failures, failures[:5]
    assert len(acknowledged) == writers * rounds
    listed = client.v1("DescribeInstances", {"RegionId": REGION, "PageSize": "100"})
    assert listed.status == 200, listed.body
    assert listed.json["TotalCount"] == writers + len(acknowledged)
    assert set(acknowledged) <= {i["InstanceId"] for i in listed.json["Instances"]["Instance"]}
    # Every instance's last act was a detach, each acknowledged: no binding is left.
    bound = client.v1("DescribeInstanceRamRole", {"RegionId": REGION, "RamRoleName": role})
    assert bound.json["TotalCount"] == 0, bound.body
    # The attacker's poison created nothing.
    theirs = attacker.raw().v1("DescribeInstances", {"RegionId": REGION})
    assert (theirs.status, theirs.json["TotalCount"]) == (200, 1)

    batches = [m for m in map(_BATCH_LINE.search, server.output) if m is not None]
    sizes = [int(m.group(1)) for m in batches]
    shared = [m for m in batches if victim.account_id in m.group(3) and attacker.account_id in m.group(3)]
    print(
        f"batches {len(batches)}, of several requests {sum(n > 1 for n in sizes)}, with both accounts {len(shared)}",
        sorted(sizes)[-40:],
    )
    assert len(shared) >= rounds // 2, "the two accounts' requests did not share transactions"
