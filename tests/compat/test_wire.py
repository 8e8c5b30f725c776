"""The replay clients send each tool's wire style (checked on a capture server, not on ecsram):
where the parameters go, which method, which headers, what the signature covers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from tests.compat.wire import ECS, RAM, Footmark, GoSdkRpc, TeaRpc
from tests.support.raw import sign_v1

COMMON = {"Action", "Version", "Format", "Timestamp", "SignatureNonce", "SignatureMethod", "SignatureVersion"}


@dataclass
class Captured:
    method: str = ""
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@contextmanager
def capture() -> Iterator[tuple[str, Captured]]:
    seen = Captured()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            seen.method, seen.path = self.command, parts.path
            seen.query = dict(parse_qsl(parts.query, keep_blank_values=True))
            seen.headers = {k.lower(): v for k, v in self.headers.items()}
            seen.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = b'{"RequestId":"R"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _without_signature(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k != "Signature"}


def test_tea_rpc_wire() -> None:
    """tea-rpc ``DoRequest`` (Terraform's RpcPost): common parameters in the query (``Format=json``
    in lower case), the request's parameters as a form body, the signature over both."""
    with capture() as (endpoint, seen):
        TeaRpc(endpoint, access_key_id="AK", secret="S", security_token="T").call(
            RAM, "CreateRole", {"RoleName": "r", "Description": "a b", "MaxSessionDuration": 3600}
        )
    assert (seen.method, seen.path) == ("POST", "/")
    assert set(seen.query) == COMMON | {"AccessKeyId", "SecurityToken", "Signature"}
    assert (seen.query["Format"], seen.query["Action"], seen.query["Version"]) == ("json", "CreateRole", RAM)
    form = dict(parse_qsl(seen.body.decode(), keep_blank_values=True))
    assert form == {"RoleName": "r", "Description": "a b", "MaxSessionDuration": "3600"}
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert (seen.headers["x-acs-action"], seen.headers["x-acs-version"]) == ("CreateRole", RAM)
    assert seen.headers["host"] == endpoint and "Terraform/" in seen.headers["user-agent"]
    merged = {**_without_signature(seen.query), **form}
    assert seen.query["Signature"] == sign_v1("POST", merged, "S")


def test_go_sdk_rpc_wire() -> None:
    """alibaba-cloud-sdk-go RPC (aliyun-cli, WithEcsClient): POST, everything in the query, an
    empty body, ``Format=JSON``, a blank ``SignatureType`` inside the signed string."""
    with capture() as (endpoint, seen):
        GoSdkRpc(endpoint, access_key_id="AK", secret="S").call(ECS, "DescribeInstances", {"PageSize": 100})
    assert (seen.method, seen.body) == ("POST", b"")
    assert seen.query["Format"] == "JSON" and seen.query["SignatureType"] == ""
    assert (seen.query["PageSize"], seen.query["RegionId"]) == ("100", "cn-hangzhou")
    assert seen.query["Signature"] == sign_v1("POST", _without_signature(seen.query), "S")


def test_footmark_wire() -> None:
    """footmark through aliyun-python-sdk-core: the ECS request classes POST with every parameter
    in the query; ``instance_ids`` is a JSON list, ``tags`` become ``Tag.N.Key/Value``, and a
    ``Footmark<Action>-`` ClientToken is added where the request class has one."""
    with capture() as (endpoint, seen):
        ecs = Footmark(endpoint, "AK", "S", "aliyunsdkecs.request.v20140526")
        ecs.call("RunInstances", image_id="img", ram_role_name="role", tags={"k": "v"}, not_a_parameter="x")
    assert seen.method == "POST"
    assert (seen.query["ImageId"], seen.query["RamRoleName"]) == ("img", "role")
    assert (seen.query["Tag.1.Key"], seen.query["Tag.1.Value"]) == ("k", "v")
    assert seen.query["ClientToken"].startswith("FootmarkRunInstances-")
    assert "NotAParameter" not in seen.query and "not_a_parameter" not in seen.query
    with capture() as (endpoint, seen):
        Footmark(endpoint, "AK", "S", "aliyunsdkecs.request.v20140526").call(
            "DescribeInstances", instance_ids=["i-1", "i-2"], page_size=100
        )
    assert json.loads(seen.query["InstanceIds"]) == ["i-1", "i-2"] and seen.query["PageSize"] == "100"
