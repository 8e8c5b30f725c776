"""The reliability suites' client side: a fast keep-alive signing client, the checks every answer
must pass, and a second account's view (snapshot and steady traffic) that a fuzzer must not change.

Signing reuses the benchmark's independent V1 signer (``bench/signer.py``) and the raw client's
V3 signer (``tests/support/raw.py``): neither is ecsram's own code.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import orjson
from bench.signer import NonceSource, V1Signer, canonical_query, v1_signature, v1_string_to_sign

from ecsram.testing.plugin import IMAGE, INSTANCE_TYPE
from tests.support.raw import ECS, RAM, RawResponse, sign_v3, utc_timestamp

ERROR_FIELDS = ("RequestId", "HostId", "Code", "Message", "Recommend")
JSON_TYPE = "application/json;charset=utf-8"
XML_TYPE = "text/xml;charset=utf-8"


class FuzzClient:
    """Signed requests over one persistent connection (the fuzzers send hundreds of thousands).

    A request that fails because the server had closed an idle kept-alive connection is sent
    again on a new one (unless ``retry_idle`` is off: the crash suite must know which calls went
    unanswered); any other transport failure is raised."""

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        secret: str,
        *,
        security_token: str | None = None,
        timeout: float = 60,
        retry_idle: bool = True,
    ) -> None:
        self.retry_idle = retry_idle
        self.endpoint = endpoint
        self.host, port = endpoint.rsplit(":", 1)
        self.port = int(port)
        self.access_key_id = access_key_id
        self.secret = secret
        self.security_token = security_token
        self.timeout = timeout
        self.signer = V1Signer(access_key_id, secret, NonceSource())
        self.sent = 0
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._connection

    def send(
        self, method: str, target: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> RawResponse:
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connect()
            try:
                connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                all_headers = dict(headers or {})
                if not any(name.lower() == "host" for name in all_headers):
                    all_headers["Host"] = self.endpoint
                if (body or method in ("POST", "PUT", "PATCH")) and not any(
                    name.lower() in ("content-length", "transfer-encoding") for name in all_headers
                ):
                    all_headers["Content-Length"] = str(len(body))
                for name, value in all_headers.items():
                    connection.putheader(name, value)
                connection.endheaders(body or None)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 1 and self.retry_idle:
                    continue
                raise
            except Exception:
                self.close()
                raise
            self.sent += 1
            answer = RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
            if response.will_close:
                self.close()
            return answer
        raise AssertionError("unreachable")

    def v1(
        self,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        version: str = ECS,
        method: str = "GET",
        xml: bool = False,
    ) -> RawResponse:
        all_params = {"Action": action, "Version": version, **(params or {})}
        if xml:
            all_params["Format"] = "XML"
        if self.security_token:
            all_params["SecurityToken"] = self.security_token
        signed = self.signer.signed_params(all_params)
        if method == "GET":
            return self.send("GET", "/?" + canonical_query(signed))
        del signed["Signature"]  # signed for GET: sign again for this method
        signed["Signature"] = v1_signature(self.secret, v1_string_to_sign(method, signed))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.send(method, "/", canonical_query(signed).encode(), headers)

    def v3(
        self, action: str, params: Mapping[str, str] | None = None, *, version: str = ECS, method: str = "POST"
    ) -> RawResponse:
        query = dict(params or {})
        payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # SHA-256 of b""
        headers = {
            "host": self.endpoint,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": utc_timestamp(),
            "x-acs-signature-nonce": self.signer.nonces(),
            "x-acs-content-sha256": payload_hash,
        }
        if self.security_token:
            headers["x-acs-security-token"] = self.security_token
        signed = sorted(headers)
        signature = sign_v3(method, query, headers, signed, payload_hash, self.secret)
        headers["authorization"] = (
            f"ACS3-HMAC-SHA256 Credential={self.access_key_id},SignedHeaders={';'.join(signed)},Signature={signature}"
        )
        target = "/?" + canonical_query(query) if query else "/"
        return self.send(method, target, b"", headers)

    def ok(self, action: str, params: Mapping[str, str] | None = None, *, version: str = ECS) -> Any:
        """A call that must succeed; its JSON document."""
        response = self.v1(action, params, version=version)
        if response.status != 200:
            raise AssertionError(f"{action} answered {response.status}: {response.body[:500]!r}")
        return response.json


# --- what every answer must be -------------------------------------------------------------------


def problem(response: RawResponse, *, method: str = "GET", api: bool = True) -> str | None:
    """Why ``response`` is not an acceptable answer, or None. ``api``: a path the API wire
    answers (every answer carries ``x-acs-request-id``; errors are the vendor's document)."""
    if response.status >= 500:
        return f"HTTP {response.status}"
    if not api:
        return None
    request_id = response.headers.get("x-acs-request-id")
    if not request_id:
        return "no x-acs-request-id header"
    if method == "HEAD" or response.status < 400:
        return None
    content_type = response.headers.get("content-type")
    if content_type == JSON_TYPE:
        try:
            document = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            return "an error body that is not JSON"
        if not isinstance(document, dict):
            return "an error body that is not a JSON object"
        fields = document
    elif content_type == XML_TYPE:
        try:
            root = ElementTree.fromstring(response.body)
        except ElementTree.ParseError:
            return "an error body that is not XML"
        if root.tag != "Error":
            return f"an XML error whose root is {root.tag}"
        fields = {child.tag: child.text for child in root}
    else:
        return f"an error of content type {content_type!r}"
    for name in ERROR_FIELDS:
        if not isinstance(fields.get(name), str) or not fields[name]:
            return f"an error without {name}"
    if fields["RequestId"] != request_id:
        return "an error whose RequestId differs from x-acs-request-id"
    if f"requestId={request_id}" not in fields["Recommend"]:
        return "an error whose Recommend does not name the request"
    return None


@dataclass
class Findings:
    """Failures a fuzzer found (the first few of each kind kept whole), and what it sent."""

    sent: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: RawResponse, what: str, *, method: str = "GET", api: bool = True) -> None:
        found = problem(response, method=method, api=api)
        with self.lock:
            self.sent += 1
            code = response.code if response.status >= 400 and method != "HEAD" else None
            key = f"{response.status} {code or ''}".strip()
            self.codes[key] = self.codes.get(key, 0) + 1
            if found is not None:
                kept = self.failures.setdefault(found, [])
                if len(kept) < 5:
                    kept.append(f"{_short(what)}\n  -> {response.status} {response.body[:300]!r}")

    def report(self) -> str:
        lines = [f"{sum(map(len, self.failures.values()))} kinds/examples of failure in {self.sent} requests:"]
        for kind, examples in self.failures.items():
            lines.append(f"- {kind}:")
            lines.extend(f"    {example}" for example in examples)
        return "\n".join(lines)


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# --- a second account: its view, and its traffic during the fuzzing --------------------------------

REGION = "cn-hangzhou"
VICTIM_RUN_REGION = "cn-shanghai"


def _instances(client: FuzzClient, region: str) -> list[Any]:
    found: list[Any] = []
    page = 1
    while True:
        body = client.ok("DescribeInstances", {"RegionId": region, "PageSize": "100", "PageNumber": str(page)})
        found.extend(body["Instances"]["Instance"])
        if page * 100 >= body["TotalCount"]:
            return found
        page += 1


def snapshot(client: FuzzClient) -> dict[str, Any]:
    """DescribeInstances, ListRoles and DescribeInstanceRamRole as the account sees them (no RequestId)."""
    instances = _instances(client, REGION)
    roles: list[Any] = []
    marker: str | None = None
    while True:
        body = client.ok("ListRoles", {"MaxItems": "100", **({"Marker": marker} if marker else {})}, version=RAM)
        roles.extend(body["Roles"]["Role"])
        if not body.get("IsTruncated"):
            break
        marker = body["Marker"]
    ids = [item["InstanceId"] for item in instances]
    bound: list[Any] = []
    for start in range(0, len(ids), 50):
        body = client.ok(
            "DescribeInstanceRamRole",
            {"RegionId": REGION, "InstanceIds": json.dumps(ids[start : start + 50]), "PageSize": "50"},
        )
        bound.extend(body["InstanceRamRoleSets"]["InstanceRamRoleSet"])
    return {"instances": instances, "roles": roles, "bindings": bound}


@dataclass
class Victim:
    """Steady traffic of a second account while another is fuzzed: every call must succeed.

    Its writes leave the snapshot unchanged (an attach is undone by a detach; its new instances
    go to another region), and every instance a RunInstances acknowledged must exist afterwards."""

    endpoint: str
    access_key_id: str
    secret: str
    role: str
    instance_ids: list[str]
    created: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    calls: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="victim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)

    def _expect(self, response: RawResponse, what: str) -> Any:
        self.calls += 1
        if response.status != 200:
            if len(self.failures) < 20:
                self.failures.append(f"{what}: {response.status} {response.body[:300]!r}")
            return None
        return response.json

    def _run(self) -> None:
        client = FuzzClient(self.endpoint, self.access_key_id, self.secret)
        step = 0
        try:
            while not self._stop.is_set():
                step += 1
                instance = self.instance_ids[step % len(self.instance_ids)]
                ids = json.dumps([instance])
                match step % 6:
                    case 0:
                        token = uuid.uuid4().hex
                        params = {
                            "RegionId": VICTIM_RUN_REGION,
                            "ImageId": IMAGE,
                            "InstanceType": INSTANCE_TYPE,
                            "VSwitchId": "vsw-victim01",
                            "Amount": "2",
                            "ClientToken": token,
                        }
                        body = self._expect(client.v1("RunInstances", params), "RunInstances")
                        if body is not None:
                            self.created.extend(body["InstanceIdSets"]["InstanceIdSet"])
                    case 1:
                        params = {"RegionId": REGION, "RamRoleName": self.role, "InstanceIds": ids}
                        body = self._expect(client.v1("AttachInstanceRamRole", params), "Attach")
                        if body is not None:
                            self._expect(client.v1("DetachInstanceRamRole", params), "Detach")
                    case 2:
                        self._expect(client.v1("DescribeInstances", {"RegionId": REGION}), "DescribeInstances")
                    case 3:
                        self._expect(client.v1("ListRoles", {}, version=RAM), "ListRoles")
                    case 4:
                        params = {"RegionId": REGION, "InstanceIds": ids}
                        self._expect(client.v1("DescribeInstanceRamRole", params), "DescribeInstanceRamRole")
                    case _:
                        self._expect(client.v3("DescribeRegions", {}), "DescribeRegions (V3)")
                self._stop.wait(0.005)  # steady, not flat out: the fuzzer gets most of the worker
        except Exception as exc:  # a transport failure is a failure of the isolation too
            self.failures.append(f"victim stopped: {exc!r}")
        finally:
            client.close()

    def verify_created(self) -> list[str]:
        """The acknowledged instances that are missing (an empty list when all are there)."""
        client = FuzzClient(self.endpoint, self.access_key_id, self.secret)
        try:
            present = {item["InstanceId"] for item in _instances(client, VICTIM_RUN_REGION)}
        finally:
            client.close()
        return [instance for instance in self.created if instance not in present]


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
