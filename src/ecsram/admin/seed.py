"""Applying a seed: make the store hold what the file declares, through the API's own operations.

Each declaration becomes the API call a person would make (CreateRole, AttachPolicyToUser,
AttachInstanceRamRole, ...), run in-process by the account's root with the operation's own
parameter checks and handler, so a seed obeys exactly the rules the API does. Applying is
idempotent: what exists and matches is left alone, what is missing is created, and declared
attributes that differ are brought in line (UpdateRole, a new default policy version, a
re-attached instance role, ...). Nothing that the file does not mention is deleted.

Everything happens in the caller's one transaction: an error leaves the store unchanged.
The accounts' parts of the file are kept in the store, so that a reset can restore them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ecsram.admin.seedfile import (
    AccountDecl,
    FaultDecl,
    InstanceDecl,
    KeyDecl,
    Path_,
    PolicyRef,
    Seed,
    SeedError,
    from_stored,
)
from ecsram.contract.call import Call, HttpRequest
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation
from ecsram.faults import rules as fault_rules
from ecsram.iam.principal import Principal, PrincipalKind
from ecsram.iam.tokens import TokenAuthority
from ecsram.services import all_operations
from ecsram.services.ecs import instances as instance_service
from ecsram.store import accounts, groups, instances, policies, roles, users, world
from ecsram.store import faults as stored_faults
from ecsram.store import settings as stored_settings
from ecsram.store.named import name_key
from ecsram.store.sql import Tx
from ecsram.store.users import MAX_KEYS_PER_USER

# The store setting that keeps each seeded account's declarations: {account ID: plain data}.
SEED_SETTING = "seed_accounts"


@dataclass
class Outcome:
    """What applying changed, as counts per kind of thing ("role created": 2, ...)."""

    counts: dict[str, int] = field(default_factory=dict)

    def note(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    @property
    def changed(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        if not self.counts:
            return "nothing to change"
        return ", ".join(f"{what}: {count}" for what, count in sorted(self.counts.items()))


@functools.cache
def _operations() -> dict[tuple[str, str], Operation]:
    return {(op.product, op.action): op for op in all_operations()}


def _json_equal(left: str | None, right: str | None) -> bool:
    if left is None or right is None:
        return left is right
    try:
        return bool(orjson.loads(left) == orjson.loads(right))
    except orjson.JSONDecodeError:
        return left == right


class _Applier:
    def __init__(self, seed: Seed, tx: Tx, now: float) -> None:
        self.seed = seed
        self.tx = tx
        self.now = now
        self.tokens = TokenAuthority(stored_settings.ensure_token_secret(tx))
        self.outcome = Outcome()
        self.account_id = ""

    def error(self, path: Path_, message: str) -> SeedError:
        return self.seed.located.error(path, message)

    def _root_call(self, operation: Operation, params: Mapping[str, str | None]) -> Call:
        """A call of ``operation`` by the account's root, in this transaction, its parameters
        validated as the API validates them (ApiError if they are not valid)."""
        raw = {name: value for name, value in params.items() if value is not None}
        http = HttpRequest("POST", b"", [], {}, b"", "127.0.0.1", False)
        call = Call(request_id="seed", http=http, tokens=self.tokens, raw_params=raw, action=operation.action)
        call.operation = operation
        call.begin(self.tx, self.now)
        call.authenticated(Principal(self.account_id, "", PrincipalKind.ROOT))
        call.args = operation.params.validate(raw)
        return call

    def call(
        self,
        product: str,
        action: str,
        params: Mapping[str, str | None],
        fields: Mapping[str, Path_],
        at: Path_ | None = None,
    ) -> Any:
        """Run an API operation as the account's root; an ApiError names the field it is about
        (the parameter its code or message names), else ``at`` (else the first field)."""
        operation = _operations()[(product, action)]
        try:
            call = self._root_call(operation, params)
            return operation.handler(call)
        except ApiError as exc:
            field_path = next((path for name, path in fields.items() if name in exc.code or name in exc.message), None)
            where = field_path or at or next(iter(fields.values()))
            raise self.error(where, f"{action} refused it: {exc.code}: {exc.message}") from None

    # --- accounts and keys --------------------------------------------------------------------

    def account(self, decl: AccountDecl) -> None:
        self.account_id = decl.account_id
        if not world.account_exists(self.tx, decl.account_id):
            if not decl.root_keys:
                raise self.error((*decl.path, "id"), "a new account needs root_keys (an id and a secret)")
            first = decl.root_keys[0]
            try:
                accounts.create_account(
                    self.tx,
                    self.now,
                    account_id=decl.account_id,
                    access_key_id=first.access_key_id,
                    access_key_secret=first.secret,
                )
            except accounts.AccountConflict as exc:
                raise self.error(first.path, str(exc)) from None
            self.outcome.note("account created")
        for key in decl.root_keys:
            self.key(key, None)

    def key(self, key: KeyDecl, user_id: str | None) -> None:
        try:
            accounts.check_key_format(key.access_key_id, key.secret)
        except accounts.AccountConflict as exc:
            raise self.error(key.path, str(exc)) from None
        found = accounts.find_access_key(self.tx, key.access_key_id)
        if found is None:
            if user_id is not None and len(users.keys_of(self.tx, self.account_id, user_id)) >= MAX_KEYS_PER_USER:
                raise self.error(key.path, f"a user has at most {MAX_KEYS_PER_USER} AccessKeys")
            stored = accounts.AccessKey(key.access_key_id, key.secret, self.account_id, user_id, key.status)
            accounts.insert_access_key(self.tx, stored, self.now)
            self.outcome.note("access key created")
            return
        if found.account_id != self.account_id or found.user_id != user_id:
            owner = f"user {found.user_id}" if found.user_id else "the root"
            raise self.error(
                (*key.path, "id"), f"AccessKeyId {key.access_key_id} belongs to {owner} of {found.account_id}"
            )
        if found.secret != key.secret:
            raise self.error((*key.path, "secret"), f"AccessKeyId {key.access_key_id} exists with another secret")
        if found.status != key.status:
            accounts.set_access_key_status(self.tx, key.access_key_id, key.status)
            self.outcome.note("access key status changed")

    # --- RAM ----------------------------------------------------------------------------------

    def policy(self, decl: Any) -> None:
        existing = policies.find(self.tx, self.account_id, decl.name)
        if existing is None:
            self.call(
                "ram",
                "CreatePolicy",
                {"PolicyName": decl.name, "PolicyDocument": decl.document, "Description": decl.description},
                {
                    "PolicyName": (*decl.path, "name"),
                    "PolicyDocument": (*decl.path, "document"),
                    "Description": (*decl.path, "description"),
                },
            )
            self.outcome.note("policy created")
            return
        current = next(v for v in policies.versions(self.tx, existing) if v.version_id == existing.default_version)
        if not _json_equal(current.document, decl.document):
            self.call(
                "ram",
                "CreatePolicyVersion",
                {
                    "PolicyName": decl.name,
                    "PolicyDocument": decl.document,
                    "SetAsDefault": "true",
                    "RotateStrategy": "DeleteOldestNonDefaultVersionWhenLimitExceeded",
                },
                {"PolicyDocument": (*decl.path, "document"), "PolicyName": (*decl.path, "name")},
            )
            self.outcome.note("policy document changed")

    def attach(
        self, principal_type: str, name_param: str, name: str, principal_id: str, refs: tuple[PolicyRef, ...]
    ) -> None:
        held = {
            (a.policy_type, a.policy_name_key)
            for a in policies.attachments_of(self.tx, self.account_id, principal_type, principal_id)
        }
        action = {policies.USER: "AttachPolicyToUser", policies.GROUP: "AttachPolicyToGroup"}.get(
            principal_type, "AttachPolicyToRole"
        )
        for ref in refs:
            if (ref.policy_type, name_key(ref.name)) in held:
                continue
            params = {"PolicyType": ref.policy_type, "PolicyName": ref.name, name_param: name}
            self.call("ram", action, params, {"PolicyName": ref.path, "PolicyType": ref.path})
            self.outcome.note("policy attached")

    def role(self, decl: Any) -> None:
        existing = roles.find(self.tx, self.account_id, decl.name)
        trust = decl.trust or _ecs_trust()
        fields = {
            "RoleName": (*decl.path, "name"),
            "AssumeRolePolicyDocument": (*decl.path, "trust"),
            "NewAssumeRolePolicyDocument": (*decl.path, "trust"),
            "Description": (*decl.path, "description"),
            "NewDescription": (*decl.path, "description"),
            "MaxSessionDuration": (*decl.path, "max_session_duration"),
        }
        duration = None if decl.max_session_duration is None else str(decl.max_session_duration)
        if existing is None:
            self.call(
                "ram",
                "CreateRole",
                {
                    "RoleName": decl.name,
                    "AssumeRolePolicyDocument": trust,
                    "Description": decl.description,
                    "MaxSessionDuration": duration,
                },
                fields,
            )
            self.outcome.note("role created")
            existing = roles.find(self.tx, self.account_id, decl.name)
            assert existing is not None
        else:
            changes: dict[str, str | None] = {}
            if not _json_equal(existing.assume_role_policy, trust):
                changes["NewAssumeRolePolicyDocument"] = trust
            if existing.description != decl.description:
                changes["NewDescription"] = decl.description
            if decl.max_session_duration is not None and existing.max_session_duration != decl.max_session_duration:
                changes["NewMaxSessionDuration"] = duration
            if changes:
                self.call("ram", "UpdateRole", {"RoleName": decl.name, **changes}, fields)
                self.outcome.note("role changed")
        self.attach(policies.ROLE, "RoleName", existing.role_name, existing.role_id, decl.policies)

    def group(self, decl: Any) -> None:
        existing = groups.find(self.tx, self.account_id, decl.name)
        fields = {"GroupName": (*decl.path, "name"), "Comments": (*decl.path, "comments")}
        if existing is None:
            self.call("ram", "CreateGroup", {"GroupName": decl.name, "Comments": decl.comments}, fields)
            self.outcome.note("group created")
            existing = groups.find(self.tx, self.account_id, decl.name)
            assert existing is not None
        elif existing.comments != decl.comments:
            self.call("ram", "UpdateGroup", {"GroupName": decl.name, "NewComments": decl.comments}, fields)
            self.outcome.note("group changed")
        self.attach(policies.GROUP, "GroupName", existing.group_name, existing.group_id, decl.policies)

    def user(self, decl: Any) -> None:
        existing = users.find(self.tx, self.account_id, decl.name)
        fields = {
            "UserName": (*decl.path, "name"),
            "DisplayName": (*decl.path, "display_name"),
            "Comments": (*decl.path, "comments"),
        }
        if existing is None:
            params = {"UserName": decl.name, "DisplayName": decl.display_name, "Comments": decl.comments}
            self.call("ram", "CreateUser", params, fields)
            self.outcome.note("user created")
            existing = users.find(self.tx, self.account_id, decl.name)
            assert existing is not None
        else:
            changes: dict[str, str | None] = {}
            if decl.display_name is not None and existing.display_name != decl.display_name:
                changes["NewDisplayName"] = decl.display_name
            if existing.comments != decl.comments:
                changes["NewComments"] = decl.comments
            if changes:
                update_fields = {"NewDisplayName": fields["DisplayName"], "NewComments": fields["Comments"], **fields}
                self.call("ram", "UpdateUser", {"UserName": decl.name, **changes}, update_fields)
                self.outcome.note("user changed")
        for key in decl.keys:
            self.key(key, existing.user_id)
        member_of = {group.group_id for group, _joined in groups.groups_of(self.tx, existing.user_id)}
        for path, group_name in decl.groups:
            group = groups.find(self.tx, self.account_id, group_name)
            if group is None:
                raise self.error(path, f"no group {group_name!r} in this account (declare it under groups)")
            if group.group_id not in member_of:
                self.call(
                    "ram", "AddUserToGroup", {"GroupName": group_name, "UserName": decl.name}, {"GroupName": path}
                )
                self.outcome.note("user added to group")
        self.attach(policies.USER, "UserName", existing.user_name, existing.user_id, decl.policies)

    # --- ECS ----------------------------------------------------------------------------------

    def instance(self, decl: InstanceDecl) -> None:
        fields = {
            "RegionId": (*decl.path, "region"),
            "ImageId": (*decl.path, "image_id"),
            "InstanceType": (*decl.path, "instance_type"),
            "VSwitchId": (*decl.path, "vswitch_id"),
            "InstanceName": (*decl.path, "name"),
            "InstanceId": (*decl.path, "id"),
            "RamRoleName": (*decl.path, "role"),
            "Policy": (*decl.path, "role_policy"),
        }
        existing = instances.get_any(self.tx, decl.instance_id)
        if existing is not None and existing.account_id != self.account_id:
            raise self.error((*decl.path, "id"), f"instance {decl.instance_id} belongs to another account")
        if existing is None:
            params = {
                "RegionId": decl.region,
                "ImageId": decl.image_id,
                "InstanceType": decl.instance_type,
                "VSwitchId": decl.vswitch_id,
                "InstanceName": decl.name,
            }
            self._create_instance(decl, params, fields)
            self.outcome.note("instance created")
            existing = instances.get(self.tx, self.account_id, decl.instance_id)
            assert existing is not None
        elif existing.region_id != decl.region:
            raise self.error((*decl.path, "region"), f"instance {decl.instance_id} exists in {existing.region_id}")
        elif existing.status != decl.status:
            action = "StartInstance" if decl.status == "Running" else "StopInstance"
            self.call("ecs", action, {"InstanceId": decl.instance_id, "RegionId": decl.region}, fields, decl.path)
            self.outcome.note("instance status changed")

        same_role = (
            existing.ram_role_name is not None
            and decl.role is not None
            and name_key(existing.ram_role_name) == name_key(decl.role)
        )
        if same_role and _json_equal(existing.ram_role_policy, decl.role_policy):
            return
        if existing.ram_role_name is None and decl.role is None:
            return
        ids = orjson.dumps([decl.instance_id]).decode()
        if existing.ram_role_name is not None:
            self.call("ecs", "DetachInstanceRamRole", {"RegionId": decl.region, "InstanceIds": ids}, fields, decl.path)
            self.outcome.note("instance role detached")
        if decl.role is not None:
            params = {"RegionId": decl.region, "InstanceIds": ids, "RamRoleName": decl.role, "Policy": decl.role_policy}
            result = self.call("ecs", "AttachInstanceRamRole", params, fields, (*decl.path, "role"))
            failed = result["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"]
            if result["FailCount"]:
                raise self.error((*decl.path, "role"), f"AttachInstanceRamRole failed: {failed[0]['Message']}")
            self.outcome.note("instance role attached")

    def _create_instance(self, decl: InstanceDecl, params: dict[str, str | None], fields: Mapping[str, Path_]) -> None:
        """RunInstances' checks and body, with the instance ID the file gives."""
        operation = _operations()[("ecs", "RunInstances")]
        status = instance_service.RUNNING if decl.status == "Running" else instance_service.STOPPED
        try:
            call = self._root_call(operation, params)
            instance_service.create_instances(call, "RunInstances", 1, status, instance_ids=[decl.instance_id])
        except ApiError as exc:
            field_path = next((path for name, path in fields.items() if name in exc.code or name in exc.message), None)
            raise self.error(field_path or decl.path, f"RunInstances refused it: {exc.code}: {exc.message}") from None

    # --- the whole file -----------------------------------------------------------------------

    def apply_account(self, decl: AccountDecl) -> None:
        self.account(decl)
        for policy in decl.policies:
            self.policy(policy)
        for role in decl.roles:
            self.role(role)
        for group in decl.groups:
            self.group(group)
        for user in decl.users:
            self.user(user)
        for instance in decl.instances:
            self.instance(instance)


def _ecs_trust() -> str:
    return orjson.dumps(
        {
            "Version": "1",
            "Statement": [
                {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["ecs.aliyuncs.com"]}}
            ],
        }
    ).decode()


def stored_seeds(tx: Tx) -> dict[str, Any]:
    value = stored_settings.get(tx, SEED_SETTING)
    loaded = orjson.loads(value) if value else {}
    return loaded if isinstance(loaded, dict) else {}


def apply(tx: Tx, seed: Seed, now: float, *, remember: bool = True) -> Outcome:
    """Make the store hold what the seed declares (SeedError if it cannot; the caller's
    transaction then rolls everything back). With ``remember``, reset will restore it."""
    applier = _Applier(seed, tx, now)
    for account in seed.accounts:
        applier.apply_account(account)
    for fault in seed.faults:
        if _add_fault(tx, fault):
            applier.outcome.note("fault rules")
    if remember and seed.accounts:
        kept = stored_seeds(tx)
        kept.update({account.account_id: account.plain for account in seed.accounts})
        stored_settings.put(tx, SEED_SETTING, orjson.dumps(kept).decode())
    return applier.outcome


def _add_fault(tx: Tx, fault: FaultDecl) -> bool:
    """Add a seeded fault rule unless the same declaration was applied before (its ID is derived
    from the declaration, so applying a seed file again adds nothing)."""
    declared = orjson.dumps([fault.index, fault.plain], option=orjson.OPT_SORT_KEYS, default=str)
    rule_id = "fr-" + hashlib.sha256(declared).hexdigest()[:16]
    rule = dataclasses.replace(fault_rules.parse(fault.plain, time.time()), rule_id=rule_id)
    return stored_faults.insert_rule_if_absent(tx, rule)


def reapply_stored(tx: Tx, now: float, account_id: str | None = None) -> Outcome:
    """Apply the seeds kept in the store again (all accounts', or one account's), after a reset."""
    kept = stored_seeds(tx)
    wanted = {key: value for key, value in kept.items() if account_id is None or key == account_id}
    if not wanted:
        return Outcome()
    seed = from_stored(orjson.dumps({"accounts": list(wanted.values())}).decode())
    return apply(tx, seed, now, remember=False)


def forget(tx: Tx, account_id: str | None = None) -> None:
    """Stop restoring seeds on reset (every account's, or one's)."""
    if account_id is None:
        world.clear_setting(tx, SEED_SETTING)
        return
    kept = stored_seeds(tx)
    if kept.pop(account_id, None) is not None:
        stored_settings.put(tx, SEED_SETTING, orjson.dumps(kept).decode())
