"""The ecsram pytest plugin: a real ecsram server, a fresh account per test, official SDK clients.

Installed with the package (entry point ``pytest11``), so ``pip install ecsram`` is all it takes:

- ``ecsram_server`` (session): an ``ecsram serve`` process on a free loopback port with a
  temporary SQLite database, stopped at the end of the session (with pytest-xdist: one per
  worker); or, when ``ECSRAM_URL`` is set, the server running there.
- ``ecsram_account`` (function): a new account with its own root AccessKey, so tests are isolated
  from each other without any reset.
- ``ecsram_clients`` (function): the official clients for that account (``.ecs``, ``.ram``,
  ``.sts``: Tea; ``.acs``: the v1 ``AcsClient``) and helpers that create roles and instances,
  attach, and give the official credentials client that an instance's software would use. What
  the helpers create is deleted after the test.

The official SDKs are imported only when a fixture needs them. See docs/testing.md.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from ecsram.testing import clients as sdk_clients
from ecsram.testing.clients import MissingSdk, sdk
from ecsram.testing.server import ServerProcess, sqlite_url

__all__ = ["Account", "EcsramClients", "EcsramServer", "MissingSdk"]

URL_VARIABLE = "ECSRAM_URL"
KEY_ID_VARIABLE = "ECSRAM_ACCESS_KEY_ID"
KEY_SECRET_VARIABLE = "ECSRAM_ACCESS_KEY_SECRET"
ACCOUNTS_PATH = "/_ecsram/accounts"

REGION = "cn-hangzhou"
IMAGE = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"
INSTANCE_TYPE = "ecs.g7.large"
VSWITCH = "vsw-ecsram0001"
ECS_TRUST_POLICY = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],'
    '"Version":"1"}'
)


@dataclass(frozen=True)
class Account:
    """An account and its root AccessKey."""

    account_id: str
    access_key_id: str
    access_key_secret: str


@dataclass
class EcsramServer:
    """A running ecsram: the one the plugin started (``process``) or the one at ``ECSRAM_URL``."""

    endpoint: str  # "HOST:PORT", what the SDKs take
    process: ServerProcess | None = None
    # With ECSRAM_URL plus ECSRAM_ACCESS_KEY_ID/SECRET: every test uses this one account.
    shared_key: tuple[str, str] | None = None
    _shared_account: Account | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @classmethod
    def from_process(cls, process: ServerProcess) -> EcsramServer:
        return cls(process.endpoint, process)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_ecsram/health", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def create_account(self) -> Account:
        """A new account (``POST /_ecsram/accounts``), or the shared one when keys were given."""
        if self.shared_key is not None:
            return self._account_of_shared_key()
        request = urllib.request.Request(f"{self.url}{ACCOUNTS_PATH}", data=b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(
                f"{self.url} does not create accounts ({exc.code}: {exc.read().decode(errors='replace')}); "
                f"set {KEY_ID_VARIABLE} and {KEY_SECRET_VARIABLE} to use one existing account"
            ) from None
        return Account(body["AccountId"], body["AccessKeyId"], body["AccessKeySecret"])

    def _account_of_shared_key(self) -> Account:
        assert self.shared_key is not None
        if self._shared_account is None:
            key_id, secret = self.shared_key
            account_id = sdk_clients.tea_sts(self.endpoint, key_id, secret).get_caller_identity().body.account_id
            self._shared_account = Account(account_id, key_id, secret)
        return self._shared_account


def _endpoint_of(url: str) -> str:
    address = url.strip().removeprefix("http://").rstrip("/")
    if "://" in address or "/" in address or ":" not in address:
        raise pytest.UsageError(f"{URL_VARIABLE}={url!r}: expected http://HOST:PORT")
    return address


def _document(policy: str | dict[str, Any]) -> str:
    return policy if isinstance(policy, str) else json.dumps(policy)


class EcsramClients:
    """Official SDK clients for one account on one ecsram, and set-up helpers.

    ``.ecs``, ``.ram``, ``.sts`` are Tea clients (V3 signatures); ``.acs`` is aliyun-python-sdk-core's
    ``AcsClient`` (send its requests with ``call_v1``, which points them at ecsram over HTTP).
    """

    def __init__(
        self,
        server: EcsramServer,
        account: Account | None,
        *,
        credential: Any = None,
        cleanups: list[Callable[[], None]] | None = None,
    ) -> None:
        self.server = server
        self.account = account
        self.credential = credential
        self.region = REGION
        self._cleanups: list[Callable[[], None]] = [] if cleanups is None else cleanups
        self._clients: dict[str, Any] = {}

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def _tea(self, make: Callable[..., Any]) -> Any:
        name = make.__name__
        if name not in self._clients:
            if self.account is None:
                self._clients[name] = make(self.endpoint, None, None, credential=self.credential)
            else:
                self._clients[name] = make(self.endpoint, self.account.access_key_id, self.account.access_key_secret)
        return self._clients[name]

    @property
    def ecs(self) -> Any:
        return self._tea(sdk_clients.tea_ecs)

    @property
    def ram(self) -> Any:
        return self._tea(sdk_clients.tea_ram)

    @property
    def sts(self) -> Any:
        return self._tea(sdk_clients.tea_sts)

    @property
    def acs(self) -> Any:
        if self.account is None:
            raise TypeError("acs is the account's v1 client; for other credentials build one with StsTokenCredential")
        if "acs" not in self._clients:
            self._clients["acs"] = sdk_clients.v1_client(self.account.access_key_id, self.account.access_key_secret)
        return self._clients["acs"]

    def call_v1(self, request: Any) -> Any:
        """Send a v1 request with ``acs`` (to ecsram, over HTTP) and return the decoded JSON body."""
        return json.loads(self.acs.do_action_with_exception(sdk_clients.prepare_v1(request, self.endpoint)))

    def with_credential(self, credential: Any) -> EcsramClients:
        """The same server, acting with an ``alibabacloud_credentials`` client (e.g. an instance's)."""
        return EcsramClients(self.server, None, credential=credential, cleanups=self._cleanups)

    # --- set-up helpers: what they create is deleted after the test -------------------------------

    def ecs_role(
        self,
        name: str | None = None,
        *,
        policy: str | dict[str, Any] | None = None,
        system_policies: Sequence[str] = (),
    ) -> str:
        """Create a role that ECS may assume; ``policy`` (a document) becomes a custom policy
        attached to it, ``system_policies`` are attached by name. Returns the role name."""
        ram_models = sdk("alibabacloud_ram20150501.models")
        role = name or f"role-{uuid.uuid4().hex[:12]}"
        ram = self.ram
        attachments = [("System", system) for system in system_policies]
        if policy is not None:  # created first, so that it is deleted after the role
            custom = f"{role}-policy"
            ram.create_policy(ram_models.CreatePolicyRequest(policy_name=custom, policy_document=_document(policy)))
            self._cleanups.append(lambda: self._delete_policy(custom))
            attachments.append(("Custom", custom))
        ram.create_role(ram_models.CreateRoleRequest(role_name=role, assume_role_policy_document=ECS_TRUST_POLICY))
        self._cleanups.append(lambda: self._delete_role(role))
        for policy_type, policy_name in attachments:
            request = ram_models.AttachPolicyToRoleRequest(
                policy_type=policy_type, policy_name=policy_name, role_name=role
            )
            ram.attach_policy_to_role(request)
        return role

    def vpc_instance(self, **extra: Any) -> str:
        """Run one instance on a VPC network (it can take a role). Returns its ID."""
        models = sdk("alibabacloud_ecs20140526.models")
        options: dict[str, Any] = {"image_id": IMAGE, "instance_type": INSTANCE_TYPE, "v_switch_id": VSWITCH}
        options.update(extra)
        request = models.RunInstancesRequest(region_id=self.region, amount=1, **options)
        (instance_id,) = self.ecs.run_instances(request).body.instance_id_sets.instance_id_set
        self._cleanups.append(lambda: self._delete_instance(instance_id))
        return str(instance_id)

    def attach(self, role: str, instance_id: str, *, policy: str | dict[str, Any] | None = None) -> None:
        """AttachInstanceRamRole for one instance, with an optional narrowing ``Policy``."""
        models = sdk("alibabacloud_ecs20140526.models")
        request = models.AttachInstanceRamRoleRequest(
            region_id=self.region,
            ram_role_name=role,
            instance_ids=json.dumps([instance_id]),
            policy=None if policy is None else _document(policy),
        )
        body = self.ecs.attach_instance_ram_role(request).body
        if body.fail_count:
            result = body.attach_instance_ram_role_results.attach_instance_ram_role_result[0]
            raise AssertionError(f"attaching {role} to {instance_id} failed: {result.code} {result.message}")

    def instance_credentials(self, instance_id: str) -> Any:
        """The official ``alibabacloud_credentials`` client that software on the instance would
        use (type ``ecs_ram_role``), reading ecsram's metadata service as the instance."""
        credentials = sdk("alibabacloud_credentials.client")
        models = sdk("alibabacloud_credentials.models")
        auth_util = sdk("alibabacloud_credentials.utils.auth_util")
        # The library refuses to build this provider when ALIBABA_CLOUD_ECS_METADATA_DISABLED=true
        # (read once, at import; a sensible setting in tests, against the real metadata address).
        # This one is pointed at ecsram explicitly, so the setting does not apply to it.
        disabled = auth_util.environment_ecs_metadata_disabled
        auth_util.environment_ecs_metadata_disabled = "false"
        try:
            proxy = sdk_clients.metadata_proxy_url(self.endpoint, instance_id)
            return credentials.Client(models.Config(type="ecs_ram_role", proxy=proxy))
        finally:
            auth_util.environment_ecs_metadata_disabled = disabled

    def instance_clients(self, instance_id: str) -> EcsramClients:
        """Clients acting as software on the instance: with its role's (narrowed) credentials."""
        return self.with_credential(self.instance_credentials(instance_id))

    # --- clean-up ------------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete what the helpers created, newest first (run by the fixture after each test)."""
        errors: list[str] = []
        while self._cleanups:
            step = self._cleanups.pop()
            try:
                step()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        if errors:
            raise RuntimeError("ecsram clean-up failed:\n" + "\n".join(errors))

    @staticmethod
    def _ignore_missing(step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:
            if "NotExist" not in str(getattr(exc, "code", "")) and "NotFound" not in str(getattr(exc, "code", "")):
                raise

    def _delete_instance(self, instance_id: str) -> None:
        models = sdk("alibabacloud_ecs20140526.models")
        request = models.DeleteInstanceRequest(instance_id=instance_id, force=True)
        self._ignore_missing(lambda: self.ecs.delete_instance(request))

    def _delete_role(self, role: str) -> None:
        ram_models = sdk("alibabacloud_ram20150501.models")

        def delete() -> None:
            listed = self.ram.list_policies_for_role(ram_models.ListPoliciesForRoleRequest(role_name=role))
            for attached in listed.body.policies.policy:
                request = ram_models.DetachPolicyFromRoleRequest(
                    policy_type=attached.policy_type, policy_name=attached.policy_name, role_name=role
                )
                self.ram.detach_policy_from_role(request)
            self.ram.delete_role(ram_models.DeleteRoleRequest(role_name=role))

        self._ignore_missing(delete)

    def _delete_policy(self, name: str) -> None:
        ram_models = sdk("alibabacloud_ram20150501.models")
        self._ignore_missing(lambda: self.ram.delete_policy(ram_models.DeletePolicyRequest(policy_name=name)))


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ecsram_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EcsramServer]:
    """A real ecsram for the session: started here, or the one ``ECSRAM_URL`` names."""
    url = os.environ.get(URL_VARIABLE, "")
    if url:
        key_id, secret = os.environ.get(KEY_ID_VARIABLE, ""), os.environ.get(KEY_SECRET_VARIABLE, "")
        if bool(key_id) != bool(secret):
            raise pytest.UsageError(f"set both {KEY_ID_VARIABLE} and {KEY_SECRET_VARIABLE}, or neither")
        server = EcsramServer(_endpoint_of(url), shared_key=(key_id, secret) if key_id else None)
        if not server.healthy():
            raise pytest.UsageError(f"{URL_VARIABLE}={url}: no healthy ecsram answers at {server.url}/_ecsram/health")
        yield server
        return
    process = ServerProcess(sqlite_url(tmp_path_factory.mktemp("ecsram")))
    process.start()
    try:
        yield EcsramServer.from_process(process)
    finally:
        process.stop()


@pytest.fixture
def ecsram_account(ecsram_server: EcsramServer) -> Account:
    """A new account with its own root AccessKey (shared one with ``ECSRAM_ACCESS_KEY_ID``)."""
    return ecsram_server.create_account()


@pytest.fixture
def ecsram_clients(ecsram_server: EcsramServer, ecsram_account: Account) -> Iterator[EcsramClients]:
    """Official clients for ``ecsram_account``; what its helpers create is deleted afterwards."""
    clients = EcsramClients(ecsram_server, ecsram_account)
    yield clients
    clients.cleanup()
