"""Shared fixtures: a real ecsram server process, fresh accounts, official SDK clients.

The database backend comes from ECSRAM_TEST_BACKEND: ``sqlite`` (default) or ``postgresql``
(then ECSRAM_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres, is the
server where a fresh database is created per server fixture).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ecsram.store.accounts import AccessKey
from ecsram.testing import clients
from ecsram.testing.accounts import create_account
from ecsram.testing.plugin import EcsramServer
from ecsram.testing.server import ServerProcess
from tests.support import databases
from tests.support.raw import RawClient

# The metadata tests point the official credentials libraries at ecsram's metadata service (via
# a proxy or a dedicated listener), so ALIBABA_CLOUD_ECS_METADATA_DISABLED must stay unset: the
# Python library reads it once, at import. No test builds a default credentials chain.
os.environ.pop("ALIBABA_CLOUD_ECS_METADATA_DISABLED", None)
for proxy_variable in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(proxy_variable, None)

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Makes a fresh, empty database on the configured backend and returns its URL."""
    made: list[str] = []

    def make() -> str:
        url = databases.fresh_database(tmp_path_factory)
        made.append(url)
        return url

    yield make
    databases.drop_all(made)


@pytest.fixture(scope="session")
def server(database_factory: Callable[[], str]) -> Iterator[ServerProcess]:
    """One server for the session; tests isolate themselves with their own accounts."""
    # The audit trail is on (the default): every test then also proves it never breaks a call.
    process = ServerProcess(database_factory(), workers=2)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def ecsram_server(server: ServerProcess) -> EcsramServer:
    """The plugin's fixtures (ecsram_account, ecsram_clients) use the suite's server and backend."""
    return EcsramServer.from_process(server)


@pytest.fixture
def server_factory(database_factory: Callable[[], str]) -> Iterator[Callable[..., ServerProcess]]:
    """Start dedicated servers (own database) for tests that restart, reconfigure or break them."""
    started: list[ServerProcess] = []

    def start(database_url: str | None = None, **options: Any) -> ServerProcess:
        process = ServerProcess(database_url or database_factory(), **options)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


@dataclass
class Sdk:
    """Official clients (and the raw signer) for one account on one server."""

    endpoint: str
    key: AccessKey
    database_url: str
    user_name: str | None = None
    # Set when the key is an STS AccessKeyId.
    security_token: str | None = None

    @property
    def account_id(self) -> str:
        return self.key.account_id

    def v1(self, **kwargs: Any) -> Any:
        return clients.v1_client(self.key.access_key_id, self.key.secret, **kwargs)

    def v1_call(self, request: Any, **kwargs: Any) -> Any:
        """Send a v1 request (JSON) and return the decoded body."""
        import json

        clients.prepare_v1(request, self.endpoint)
        return json.loads(self.v1(**kwargs).do_action_with_exception(request))

    def tea_ecs(self, **kwargs: Any) -> Any:
        kwargs.setdefault("security_token", self.security_token)
        return clients.tea_ecs(self.endpoint, self.key.access_key_id, self.key.secret, **kwargs)

    def tea_ram(self, **kwargs: Any) -> Any:
        kwargs.setdefault("security_token", self.security_token)
        return clients.tea_ram(self.endpoint, self.key.access_key_id, self.key.secret, **kwargs)

    def tea_sts(self, **kwargs: Any) -> Any:
        kwargs.setdefault("security_token", self.security_token)
        return clients.tea_sts(self.endpoint, self.key.access_key_id, self.key.secret, **kwargs)

    def tea_actiontrail(self, **kwargs: Any) -> Any:
        kwargs.setdefault("security_token", self.security_token)
        return clients.tea_actiontrail(self.endpoint, self.key.access_key_id, self.key.secret, **kwargs)

    def raw(self, **kwargs: Any) -> RawClient:
        kwargs.setdefault("security_token", self.security_token)
        return RawClient(self.endpoint, self.key.access_key_id, self.key.secret, **kwargs)

    def with_credentials(self, access_key_id: str, secret: str, security_token: str | None = None) -> Sdk:
        """The same account and server, acting with other credentials (e.g. STS ones)."""
        key = AccessKey(access_key_id, secret, self.account_id, None, "Active")
        return Sdk(self.endpoint, key, self.database_url, security_token=security_token)

    def other_account(self) -> Sdk:
        return Sdk(self.endpoint, create_account(self.database_url), self.database_url)

    def new_user(self, *system_policies: str, name: str | None = None) -> Sdk:
        """A RAM user of this account with the given system policies and an AccessKey, as an Sdk."""
        from alibabacloud_ram20150501 import models as ram_models

        ram = self.tea_ram()
        user_name = name or f"user-{uuid.uuid4().hex[:10]}"
        user_id = ram.create_user(ram_models.CreateUserRequest(user_name=user_name)).body.user.user_id
        for policy in system_policies:
            request = ram_models.AttachPolicyToUserRequest(
                policy_type="System", policy_name=policy, user_name=user_name
            )
            ram.attach_policy_to_user(request)
        created = ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name=user_name)).body.access_key
        key = AccessKey(created.access_key_id, created.access_key_secret, self.account_id, user_id, created.status)
        return Sdk(self.endpoint, key, self.database_url, user_name)


@pytest.fixture
def sdk(server: ServerProcess) -> Sdk:
    return Sdk(server.endpoint, create_account(server.database_url), server.database_url)


@pytest.fixture(scope="session")
def node() -> Callable[..., Any]:
    """Run one call through an official Node SDK (tests/node/call.js); returns its JSON report."""
    import orjson

    if not (NODE_DIR / "node_modules").is_dir():
        pytest.fail("the Node SDKs are not installed: run `npm ci --prefix tests/node` (.ci/run does)")

    def run(request: dict[str, Any], env: dict[str, str] | None = None) -> Any:
        completed = subprocess.run(
            ["node", str(NODE_DIR / "call.js")],
            input=orjson.dumps(request),
            capture_output=True,
            timeout=60,
            check=False,
            env={**os.environ, **env} if env else None,
        )
        if completed.returncode != 0:
            raise AssertionError(f"node failed: {completed.stderr.decode(errors='replace')}")
        return orjson.loads(completed.stdout)

    return run
