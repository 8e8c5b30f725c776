"""A small synchronous client for the set-up phase (not timed): signed V1 GETs to an ecsram server."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any

from bench.signer import V1Signer

DEFAULT_ACCESS_KEY_ID = "LTAI5tEcsramDefaultRoot1"
DEFAULT_ACCESS_KEY_SECRET = "EcsramDefaultRootSecretNotSafe"
DEFAULT_ACCOUNT_ID = "1000000000000001"
ECS_VERSION = "2014-05-26"
RAM_VERSION = "2015-05-01"
REGION = "cn-hangzhou"
ECS_TRUST_POLICY = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",'
    '"Principal":{"Service":["ecs.aliyuncs.com"]}}],"Version":"1"}'
)
# Answers meaning "this operation does not exist (yet) on the server".
NOT_IMPLEMENTED_CODES = frozenset({"InvalidAction.NotFound", "UnsupportedOperation", "InvalidVersion"})


class ApiCallError(RuntimeError):
    def __init__(self, action: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{action}: HTTP {status} {code}: {message}")
        self.action = action
        self.status = status
        self.code = code

    @property
    def not_implemented(self) -> bool:
        return self.code in NOT_IMPLEMENTED_CODES


class EcsramClient:
    def __init__(self, host: str, port: int, signer: V1Signer | None = None) -> None:
        self.host = host
        self.port = port
        self.signer = signer or V1Signer(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        self._connection = http.client.HTTPConnection(host, port, timeout=60)

    def close(self) -> None:
        self._connection.close()

    def _exchange(self, target: str) -> tuple[int, bytes]:
        self._connection.request("GET", target)
        response = self._connection.getresponse()
        return response.status, response.read()

    def call(self, action: str, params: Mapping[str, str] | None = None, *, version: str = ECS_VERSION) -> Any:
        full = {"Action": action, "Version": version, **(params or {})}
        try:
            status, body = self._exchange(self.signer.target(full))
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed the idle keep-alive connection (uvicorn does after 5 s) before
            # reading the request: open a new one and send a freshly signed request.
            self._connection.close()
            status, body = self._exchange(self.signer.target(full))
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiCallError(action, status, "NotJson", body[:200].decode("utf-8", "replace")) from None
        if not 200 <= status <= 299:
            raise ApiCallError(action, status, str(data.get("Code")), str(data.get("Message")))
        return data

    # --- the set-up steps the scenarios need ------------------------------------------------------

    def create_ecs_role(self, name: str) -> None:
        self.call("CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": ECS_TRUST_POLICY}, version=RAM_VERSION)

    def run_instances(self, count: int, *, vswitch: str = "vsw-bench0000000000001") -> list[str]:
        """``count`` VPC instances (created 100 per RunInstances call), returning their IDs."""
        ids: list[str] = []
        while len(ids) < count:
            amount = min(100, count - len(ids))
            data = self.call(
                "RunInstances",
                {
                    "RegionId": REGION,
                    "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd",
                    "InstanceType": "ecs.g7.large",
                    "VSwitchId": vswitch,
                    "Amount": str(amount),
                },
            )
            ids.extend(data["InstanceIdSets"]["InstanceIdSet"])
        return ids


def instance_ids_param(ids: list[str]) -> str:
    return json.dumps(ids, separators=(",", ":"))


def detach_leftovers(client: EcsramClient, role: str, instance_ids: set[str]) -> int:
    """Detach every instance of ``instance_ids`` still bound to ``role`` (DescribeInstanceRamRole pages)."""
    bound: list[str] = []
    page = 1
    while True:
        data = client.call(
            "DescribeInstanceRamRole",
            {"RegionId": REGION, "RamRoleName": role, "PageSize": "50", "PageNumber": str(page)},
        )
        items = data["InstanceRamRoleSets"]["InstanceRamRoleSet"]
        bound.extend(item["InstanceId"] for item in items if item["InstanceId"] in instance_ids)
        if len(items) < 50:
            break
        page += 1
    for start in range(0, len(bound), 100):
        chunk = bound[start : start + 100]
        client.call("DetachInstanceRamRole", {"RegionId": REGION, "InstanceIds": instance_ids_param(chunk)})
    return len(bound)
