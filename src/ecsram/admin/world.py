"""Reset and state: the whole stored world (or one account of it) at once.

Reset keeps the accounts and their root AccessKeys, so that whoever could sign in before still
can, and deletes every resource: users (with their AccessKeys), groups, custom policies and
their attachments, roles, instances and their role bindings, ClientTokens. Then it applies again
what seed files declared for those accounts (see ``admin.seed``), so the world is back to its
seeded starting point. A full reset also sets the test clock back to real time.

State is the stored world as JSON-ready data, never with a secret in it.
"""

from __future__ import annotations

from typing import Any

import orjson

from ecsram.admin import seed
from ecsram.iam.arns import role_arn
from ecsram.iam.system_policies import SYSTEM_POLICIES
from ecsram.store import groups, policies, roles, users, world
from ecsram.store import settings as stored_settings
from ecsram.store.sql import Tx

_EVERYTHING = 1_000_000


class UnknownAccount(LookupError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"no account {account_id}")
        self.account_id = account_id


def _accounts(tx: Tx, account_id: str | None) -> list[str]:
    if account_id is None:
        return world.account_ids(tx)
    if not world.account_exists(tx, account_id):
        raise UnknownAccount(account_id)
    return [account_id]


def reset(tx: Tx, now: float, account_id: str | None = None, *, forget_seed: bool = False) -> dict[str, Any]:
    """Wipe the resources of every account (or of one), then restore what seeds declared for
    them (unless ``forget_seed``: then they stay empty, and later resets keep them empty)."""
    wiped = _accounts(tx, account_id)
    for account in wiped:
        world.wipe_account(tx, account)
    if account_id is None:
        world.clear_setting(tx, stored_settings.CLOCK_OFFSET)
    if forget_seed:
        seed.forget(tx, account_id)
    restored = seed.reapply_stored(tx, now, account_id)
    return {"accounts": wiped, "seedRestored": restored.counts}


def _document(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _attached(tx: Tx, account_id: str, principal_type: str, principal_id: str) -> list[str]:
    return [
        f"{a.policy_type}:{policy_name(tx, account_id, a.policy_type, a.policy_name_key)}"
        for a in policies.attachments_of(tx, account_id, principal_type, principal_id)
    ]


def policy_name(tx: Tx, account_id: str, policy_type: str, name_key: str) -> str:
    if policy_type == policies.CUSTOM:
        found = policies.find(tx, account_id, name_key)
        return found.policy_name if found is not None else name_key
    for name in SYSTEM_POLICIES:
        if name.lower() == name_key:
            return name
    return name_key


def account_state(tx: Tx, account_id: str) -> dict[str, Any]:
    root_keys = [
        {"accessKeyId": k.key.access_key_id, "status": k.key.status} for k in users.keys_of(tx, account_id, None)
    ]
    user_list = []
    for user in users.list_page(tx, account_id, after="", limit=_EVERYTHING):
        user_list.append(
            {
                "userName": user.user_name,
                "userId": user.user_id,
                "displayName": user.display_name,
                "comments": user.comments,
                "accessKeys": [
                    {"accessKeyId": k.key.access_key_id, "status": k.key.status}
                    for k in users.keys_of(tx, account_id, user.user_id)
                ],
                "groups": [group.group_name for group, _joined in groups.groups_of(tx, user.user_id)],
                "policies": _attached(tx, account_id, policies.USER, user.user_id),
            }
        )
    group_list = []
    for group in groups.list_page(tx, account_id, after="", limit=_EVERYTHING):
        group_list.append(
            {
                "groupName": group.group_name,
                "groupId": group.group_id,
                "comments": group.comments,
                "members": [name for name, *_rest in groups.members(tx, group.group_id, after="", limit=_EVERYTHING)],
                "policies": _attached(tx, account_id, policies.GROUP, group.group_id),
            }
        )
    policy_list = []
    for policy in policies.list_page(tx, account_id, after="", limit=_EVERYTHING):
        default = next(v for v in policies.versions(tx, policy) if v.version_id == policy.default_version)
        policy_list.append(
            {
                "policyName": policy.policy_name,
                "description": policy.description,
                "defaultVersion": policy.default_version,
                "document": _document(default.document),
            }
        )
    role_list = []
    for role in roles.list_page(tx, account_id, after="", limit=_EVERYTHING):
        role_list.append(
            {
                "roleName": role.role_name,
                "roleId": role.role_id,
                "arn": role_arn(role.account_id, role.role_name),
                "description": role.description,
                "maxSessionDuration": role.max_session_duration,
                "trustPolicy": _document(role.assume_role_policy),
                "policies": _attached(tx, account_id, policies.ROLE, role.role_id),
            }
        )
    instance_list = [
        {
            "instanceId": instance.instance_id,
            "regionId": instance.region_id,
            "instanceName": instance.instance_name,
            "status": instance.status,
            "networkType": instance.network_type,
            "ramRoleName": instance.ram_role_name,
            "ramRolePolicy": _document(instance.ram_role_policy),
        }
        for instance in world.instances_of(tx, account_id)
    ]
    return {
        "accountId": account_id,
        "rootAccessKeys": root_keys,
        "users": user_list,
        "groups": group_list,
        "policies": policy_list,
        "roles": role_list,
        "instances": instance_list,
    }


def state(tx: Tx, account_id: str | None = None) -> dict[str, Any]:
    """Every account's (or one account's) stored world; secrets are never included."""
    return {"accounts": [account_state(tx, account) for account in _accounts(tx, account_id)]}


def format_table(document: dict[str, Any]) -> str:
    """The state as aligned text, one section per account."""
    lines: list[str] = []
    for account in document["accounts"]:
        lines.append(f"account {account['accountId']}")
        keys = ", ".join(f"{k['accessKeyId']} ({k['status']})" for k in account["rootAccessKeys"])
        lines.append(f"  root keys: {keys or '-'}")
        rows: list[tuple[str, str, str]] = []
        for user in account["users"]:
            keys = ",".join(k["accessKeyId"] for k in user["accessKeys"]) or "-"
            detail = (
                f"keys={keys} groups={','.join(user['groups']) or '-'} policies={','.join(user['policies']) or '-'}"
            )
            rows.append(("user", user["userName"], detail))
        for group in account["groups"]:
            detail = f"members={','.join(group['members']) or '-'} policies={','.join(group['policies']) or '-'}"
            rows.append(("group", group["groupName"], detail))
        for policy in account["policies"]:
            rows.append(("policy", policy["policyName"], f"default={policy['defaultVersion']}"))
        for role in account["roles"]:
            rows.append(("role", role["roleName"], f"policies={','.join(role['policies']) or '-'}"))
        for instance in account["instances"]:
            bound = instance["ramRoleName"] or "-"
            if instance["ramRolePolicy"] is not None:
                bound += " (with attach Policy)"
            detail = f"{instance['regionId']} {instance['status']} role={bound}"
            rows.append(("instance", instance["instanceId"], detail))
        if not rows:
            lines.append("  (no resources)")
        width = max((len(name) for _kind, name, _detail in rows), default=0)
        lines.extend(f"  {kind:<8} {name:<{width}}  {detail}" for kind, name, detail in rows)
    return "\n".join(lines)
