"""What the real tools put on the wire, rebuilt from their source (facts only, no code of theirs).

- ``TeaRpc``: Terraform's ``client.RpcPost`` through ``alibabacloud-go/tea-rpc`` (``client/client.go``,
  ``DoRequest``): POST ``/``; the query holds ``Action``, ``Format=json`` (lower case), ``Version``,
  ``Timestamp``, ``SignatureNonce``, ``SignatureMethod``, ``SignatureVersion``, ``AccessKeyId``
  (``SecurityToken``) and ``Signature``; the request's own parameters are the
  ``application/x-www-form-urlencoded`` body; the V1 signature covers query and body merged;
  headers ``host``, ``x-acs-version``, ``x-acs-action``, ``user-agent``. HTTPS by default.
- ``GoSdkRpc``: ``aliyun/alibaba-cloud-sdk-go`` RPC requests, which aliyun-cli (``openapi/rpc.go``,
  ``RpcInvoker``) and Terraform's older resources (``ram.CreateAttachPolicyToRoleRequest``) send:
  POST, every parameter (``position:"Query"``) and the signature in the query string, an empty
  form body, ``Format=JSON``.
- ``Footmark``: Ansible's ``alibaba.alicloud`` modules call ``footmark``, whose
  ``ACSQueryConnection.make_request_new`` builds the product's request class of
  ``aliyun-python-sdk-<product>`` (``set_<Param>`` for each known parameter, ``add_query_param``
  for the rest), ``set_accept_format('json')``, and sends it with ``aliyunsdkcore``'s
  ``AcsClient.do_action_with_exception``. The replay does exactly that with the same libraries.

The signature is computed by ``tests.support.raw.sign_v1``, written apart from ecsram's.
"""

from __future__ import annotations

import http.client
import importlib
import json
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson

from tests.support.raw import ECS, RAM, STS, sign_v1

__all__ = ["ECS", "RAM", "STS", "Footmark", "GoSdkRpc", "TeaRpc", "ToolResponse"]

TERRAFORM_USER_AGENT = "AlibabaCloud (linux; amd64) Go/1.21.0 Core/0.01 TeaDSL/1 Terraform/1.9.0 Provider/1.240.0"


@dataclass
class ToolResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        code = self.body.get("Code")
        return str(code) if code is not None and not self.ok else None

    def terraform_not_found(self, *codes: str) -> bool:
        """Terraform's reading of an error as "the resource is gone": ``NotFoundError`` (any HTTP
        404, ``alicloud/errors.go``) or one of the codes the resource's source special-cases."""
        return not self.ok and (self.status == 404 or self.code in codes)


def _text(value: object) -> str:
    """How Go's ``tea.ToString`` / ``fmt.Sprint`` renders a parameter value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _go_timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class _Endpoint:
    endpoint: str
    protocol: str = "http"
    ssl_context: ssl.SSLContext | None = None

    def _send(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> ToolResponse:
        host, port = self.endpoint.rsplit(":", 1)
        connection: http.client.HTTPConnection
        if self.protocol == "https":
            connection = http.client.HTTPSConnection(host, int(port), timeout=30, context=self.ssl_context)
        else:
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.request(method, target, body=body or None, headers=dict(headers))
            response = connection.getresponse()
            raw = response.read()
            document = orjson.loads(raw) if raw else {}
            return ToolResponse(response.status, document, {k.lower(): v for k, v in response.getheaders()})
        finally:
            connection.close()


@dataclass
class TeaRpc(_Endpoint):
    """Terraform's RPC client (tea-rpc ``DoRequest`` with ``query`` empty and the parameters as body)."""

    access_key_id: str = ""
    secret: str = ""
    security_token: str | None = None
    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def call(self, version: str, action: str, body: Mapping[str, object] | None = None) -> ToolResponse:
        form = {key: _text(value) for key, value in (body or {}).items() if value is not None}
        query: dict[str, str] = {
            "Action": action,
            "Format": "json",
            "Timestamp": _go_timestamp(),
            "Version": version,
            "SignatureNonce": uuid.uuid4().hex,
        }
        if self.security_token:
            query["SecurityToken"] = self.security_token
        query["SignatureMethod"] = "HMAC-SHA1"
        query["SignatureVersion"] = "1.0"
        query["AccessKeyId"] = self.access_key_id
        query["Signature"] = sign_v1("POST", {**query, **form}, self.secret)
        headers = {
            "host": self.endpoint,
            "x-acs-version": version,
            "x-acs-action": action,
            "user-agent": TERRAFORM_USER_AGENT,
        }
        payload = b""
        if form:
            payload = urlencode(sorted(form.items())).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        self.sent.append((action, form))
        return self._send("POST", "/?" + urlencode(sorted(query.items())), payload, headers)

    def ecs(self, action: str, body: Mapping[str, object] | None = None) -> ToolResponse:
        return self.call(ECS, action, body)

    def ram(self, action: str, body: Mapping[str, object] | None = None) -> ToolResponse:
        return self.call(RAM, action, body)


@dataclass
class GoSdkRpc(_Endpoint):
    """alibaba-cloud-sdk-go's RPC request (aliyun-cli, older Terraform resources)."""

    access_key_id: str = ""
    secret: str = ""
    security_token: str | None = None
    region_id: str = "cn-hangzhou"

    def call(self, version: str, action: str, params: Mapping[str, object] | None = None) -> ToolResponse:
        query: dict[str, str] = {key: _text(value) for key, value in (params or {}).items() if value is not None}
        query.setdefault("RegionId", self.region_id)
        query.update(
            {
                "Action": action,
                "Version": version,
                "Format": "JSON",
                "AccessKeyId": self.access_key_id,
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "SignatureType": "",
                "SignatureNonce": uuid.uuid4().hex,
                "Timestamp": _go_timestamp(),
            }
        )
        if self.security_token:
            query["SecurityToken"] = self.security_token
        query["Signature"] = sign_v1("POST", query, self.secret)
        headers = {
            "Host": self.endpoint,
            "Content-Type": "application/x-www-form-urlencoded",
            "x-acs-action": action,
            "x-acs-version": version,
            "User-Agent": "AlibabaCloud (linux; amd64) Go/1.21.0 Core/1.62.0 Aliyun-CLI/3.0.200",
        }
        return self._send("POST", "/?" + urlencode(sorted(query.items())), b"", headers)


class FootmarkError(Exception):
    """What footmark raises from aliyunsdkcore's ServerException: the code and HTTP status."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.status = status


@dataclass
class Footmark:
    """footmark's ``ACSQueryConnection`` for one product package, e.g. ``aliyunsdkecs.request.v20140526``.

    ``params`` are footmark's request keyword arguments after ``build_request_params``: each key
    is the request class's setter (``set_InstanceIds``) or, without one, a query parameter. The
    one addition to what footmark does: ``set_endpoint`` (footmark offers no endpoint setting;
    see docs/tools.md) and the protocol (RAM's request classes force https).
    """

    endpoint: str
    access_key_id: str
    secret: str
    product: str
    region: str = "cn-hangzhou"
    protocol: str = "http"
    security_token: str | None = None
    user_agent: str = "Ansible-Provider-Alicloud"

    def request(self, action: str, params: Mapping[str, object] | None = None) -> dict[str, Any]:
        from aliyunsdkcore.acs_exception.exceptions import ServerException
        from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
        from aliyunsdkcore.client import AcsClient

        credential: Any
        if self.security_token:
            credential = StsTokenCredential(self.access_key_id, self.secret, self.security_token)
        else:
            credential = AccessKeyCredential(self.access_key_id, self.secret)
        client = AcsClient(region_id=self.region, credential=credential, user_agent=self.user_agent, auto_retry=False)
        module = importlib.import_module(f"{self.product}.{action}Request")
        request = getattr(module, f"{action}Request")()
        request.set_accept_format("json")
        for key, value in (params or {}).items():
            if hasattr(request, key):
                getattr(request, key)(value)
            else:
                request.add_query_param(key[4:], value)
        request.set_endpoint(self.endpoint)
        request.set_protocol_type(self.protocol)
        try:
            body = client.do_action_with_exception(request)
        except ServerException as exc:
            raise FootmarkError(exc.get_error_code(), exc.get_http_status(), exc.get_error_msg()) from exc
        document: dict[str, Any] = json.loads(body)
        return document

    def call(self, action: str, **kwargs: object) -> dict[str, Any]:
        """A footmark connection method: ``format_request_kwargs`` (``instance_ids`` as JSON,
        ``page_size`` as a JSON number, ``tags`` as ``[{"Key","Value"}]``, a ``Footmark<Action>-``
        client token) then ``build_request_params`` (a keyword matches the request class's setter
        by its name lower-cased without ``_``; the rest are dropped)."""
        module = importlib.import_module(f"{self.product}.{action}Request")
        setters = {
            name[4:].lower(): name for name in dir(getattr(module, f"{action}Request")) if name.startswith("set_")
        }
        formatted: dict[str, object] = dict(kwargs)
        for key, value in kwargs.items():
            if key in ("instance_ids", "disk_ids") and value:
                formatted[key] = json.dumps(value)
            if key in ("page_size", "page_number") and value:
                formatted[key] = json.dumps(int(str(value)))
            if key == "tags":
                formatted[key] = [{"Key": k, "Value": v} for k, v in dict(value or {}).items()]  # type: ignore[call-overload]
        formatted["client_token"] = f"Footmark{action}-{uuid.uuid1()}"
        params: dict[str, object] = {}
        for key, value in formatted.items():
            name = key.lower().replace("-", "").replace("_", "")
            if value is not None and name in setters:
                params[setters[name]] = value
        return self.request(action, params)


def terraform_trust_document(services: list[str], ram_users: list[str], version: str = "1") -> str:
    """``AssembleRolePolicyDocument`` of the ``services``/``ram_users`` arguments: one statement,
    both principal lists always present (``[]`` when empty), marshalled by Go's encoding/json."""
    statement = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"RAM": list(ram_users), "Service": list(services)},
    }
    return json.dumps({"Statement": [statement], "Version": version}, separators=(",", ":"))
