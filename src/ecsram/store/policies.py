"""Custom RAM policies, their versions, and policy attachments to users, groups and roles.

System policies are not rows: they are data shipped with ecsram (``iam.system_policies``), so an
attachment of a system policy records only its type and name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, func, literal, or_, select, update

from ecsram.store.named import name_key
from ecsram.store.schema import group_members, policies, policy_attachments, policy_versions
from ecsram.store.sql import Statement, Tx, insert_if_absent, params

SYSTEM = "System"
CUSTOM = "Custom"
USER, GROUP, ROLE = "user", "group", "role"
MAX_VERSIONS = 5


@dataclass(frozen=True, slots=True)
class CustomPolicy:
    account_id: str
    policy_name: str
    description: str
    default_version: str
    next_version: int
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version_id: str
    document: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Attachment:
    principal_type: str
    principal_id: str
    policy_type: str
    policy_name_key: str
    attached_at: str


_POLICY_COLUMNS = (
    policies.c.account_id,
    policies.c.policy_name,
    policies.c.description,
    policies.c.default_version,
    policies.c.next_version,
    policies.c.created_at,
    policies.c.updated_at,
)
_POLICY_KEY = (policies.c.account_id == bindparam("account_id")) & (policies.c.policy_name_key == bindparam("name_key"))
_VERSION_KEY = (policy_versions.c.account_id == bindparam("account_id")) & (
    policy_versions.c.policy_name_key == bindparam("name_key")
)


_INSERT_POLICY = insert_if_absent(
    "insert_policy",
    policies,
    {
        **params(
            "account_id", "policy_name", "description", policy_name_key="name_key", created_at="now", updated_at="now"
        ),
        "default_version": "v1",
        "next_version": 2,
    },
)
_INSERT_VERSION = Statement(
    "insert_policy_version",
    policy_versions.insert().values(
        account_id=bindparam("account_id"),
        policy_name_key=bindparam("name_key"),
        version_id=bindparam("version_id"),
        document=bindparam("document"),
        created_at=bindparam("now"),
    ),
)
_FIND_POLICY = Statement("find_policy", select(*_POLICY_COLUMNS).where(_POLICY_KEY))
_LIST_POLICIES = Statement(
    "list_custom_policies",
    select(*_POLICY_COLUMNS)
    .where(policies.c.account_id == bindparam("account_id"), policies.c.policy_name_key > bindparam("after"))
    .order_by(policies.c.policy_name_key)
    .limit(bindparam("limit")),
)
_DELETE_POLICY = Statement("delete_policy", delete(policies).where(_POLICY_KEY))
_COUNT_POLICIES = Statement(
    "count_custom_policies", select(func.count()).where(policies.c.account_id == bindparam("account_id"))
)
_DELETE_ALL_VERSIONS = Statement("delete_policy_versions", delete(policy_versions).where(_VERSION_KEY))
_VERSIONS = Statement(
    "policy_versions",
    select(policy_versions.c.version_id, policy_versions.c.document, policy_versions.c.created_at)
    .where(_VERSION_KEY)
    .order_by(policy_versions.c.created_at, policy_versions.c.version_id),
)
_DELETE_VERSION = Statement(
    "delete_policy_version",
    delete(policy_versions).where(_VERSION_KEY, policy_versions.c.version_id == bindparam("version_id")),
)
_UPDATE_POLICY = Statement(
    "update_policy_versions",
    update(policies)
    .where(_POLICY_KEY)
    .values(
        default_version=bindparam("default_version"),
        next_version=bindparam("next_version"),
        updated_at=bindparam("now"),
    ),
)
_ATTACH = insert_if_absent(
    "attach_policy",
    policy_attachments,
    params(
        "account_id", "principal_type", "principal_id", "policy_type", policy_name_key="name_key", attached_at="now"
    ),
)
_ATTACHMENT_KEY = and_(
    policy_attachments.c.account_id == bindparam("account_id"),
    policy_attachments.c.principal_type == bindparam("principal_type"),
    policy_attachments.c.principal_id == bindparam("principal_id"),
)
_DETACH = Statement(
    "detach_policy",
    delete(policy_attachments).where(
        _ATTACHMENT_KEY,
        policy_attachments.c.policy_type == bindparam("policy_type"),
        policy_attachments.c.policy_name_key == bindparam("name_key"),
    ),
)
# In the order of the Attachment dataclass.
_ATTACHMENT_COLUMNS = tuple(policy_attachments.c[name] for name in Attachment.__dataclass_fields__)
_ATTACHMENTS_OF = Statement(
    "attachments_of",
    select(*_ATTACHMENT_COLUMNS)
    .where(_ATTACHMENT_KEY)
    .order_by(policy_attachments.c.attached_at, policy_attachments.c.policy_name_key),
)
_POLICY_ATTACHMENT_KEY = and_(
    policy_attachments.c.account_id == bindparam("account_id"),
    policy_attachments.c.policy_type == bindparam("policy_type"),
    policy_attachments.c.policy_name_key == bindparam("name_key"),
)
_ENTITIES_FOR = Statement(
    "entities_for_policy",
    select(*_ATTACHMENT_COLUMNS).where(_POLICY_ATTACHMENT_KEY).order_by(policy_attachments.c.attached_at),
)
_ATTACHMENT_COUNT = Statement(
    "attachment_count", select(func.count()).select_from(policy_attachments).where(_POLICY_ATTACHMENT_KEY)
)

# The documents that govern a principal: the default version of every policy attached to it
# (and, for a user, to its groups). System policies come back with a NULL document.
_custom_join = and_(
    policies.c.account_id == policy_attachments.c.account_id,
    policies.c.policy_name_key == policy_attachments.c.policy_name_key,
    policy_attachments.c.policy_type == literal(CUSTOM),
)
_version_join = and_(
    policy_versions.c.account_id == policies.c.account_id,
    policy_versions.c.policy_name_key == policies.c.policy_name_key,
    policy_versions.c.version_id == policies.c.default_version,
)
_governing = select(
    policy_attachments.c.policy_type, policy_attachments.c.policy_name_key, policy_versions.c.document
).select_from(policy_attachments.outerjoin(policies, _custom_join).outerjoin(policy_versions, _version_join))
_USER_DOCUMENTS = Statement(
    "documents_for_user",
    _governing.where(
        policy_attachments.c.account_id == bindparam("account_id"),
        or_(
            and_(
                policy_attachments.c.principal_type == literal(USER),
                policy_attachments.c.principal_id == bindparam("principal_id"),
            ),
            and_(
                policy_attachments.c.principal_type == literal(GROUP),
                policy_attachments.c.principal_id.in_(
                    select(group_members.c.group_id).where(group_members.c.user_id == bindparam("principal_id"))
                ),
            ),
        ),
    ),
)
_ROLE_DOCUMENTS = Statement(
    "documents_for_role",
    _governing.where(
        policy_attachments.c.account_id == bindparam("account_id"),
        policy_attachments.c.principal_type == literal(ROLE),
        policy_attachments.c.principal_id == bindparam("principal_id"),
    ),
)


# --- custom policies ------------------------------------------------------------------------


def create(tx: Tx, account_id: str, policy_name: str, description: str, document: str, now: str) -> bool:
    key = name_key(policy_name)
    params = {
        "account_id": account_id,
        "name_key": key,
        "policy_name": policy_name,
        "description": description,
        "now": now,
    }
    if tx.run(_INSERT_POLICY, params) != 1:
        return False
    tx.run(
        _INSERT_VERSION,
        {"account_id": account_id, "name_key": key, "version_id": "v1", "document": document, "now": now},
    )
    return True


def find(tx: Tx, account_id: str, policy_name: str) -> CustomPolicy | None:
    row = tx.one(_FIND_POLICY, {"account_id": account_id, "name_key": name_key(policy_name)})
    return None if row is None else CustomPolicy(*row)


def list_page(tx: Tx, account_id: str, *, after: str, limit: int) -> list[CustomPolicy]:
    rows = tx.all(_LIST_POLICIES, {"account_id": account_id, "after": after, "limit": limit})
    return [CustomPolicy(*row) for row in rows]


def count(tx: Tx, account_id: str) -> int:
    return int(tx.scalar(_COUNT_POLICIES, {"account_id": account_id}))


def delete_policy(tx: Tx, policy: CustomPolicy) -> None:
    params = {"account_id": policy.account_id, "name_key": name_key(policy.policy_name)}
    tx.run(_DELETE_ALL_VERSIONS, params)
    tx.run(_DELETE_POLICY, params)


def versions(tx: Tx, policy: CustomPolicy) -> list[PolicyVersion]:
    rows = tx.all(_VERSIONS, {"account_id": policy.account_id, "name_key": name_key(policy.policy_name)})
    return [PolicyVersion(*row) for row in rows]


def add_version(tx: Tx, policy: CustomPolicy, document: str, *, make_default: bool, now: str) -> str:
    version_id = f"v{policy.next_version}"
    key = name_key(policy.policy_name)
    tx.run(
        _INSERT_VERSION,
        {"account_id": policy.account_id, "name_key": key, "version_id": version_id, "document": document, "now": now},
    )
    tx.run(
        _UPDATE_POLICY,
        {
            "account_id": policy.account_id,
            "name_key": key,
            "default_version": version_id if make_default else policy.default_version,
            "next_version": policy.next_version + 1,
            "now": now,
        },
    )
    return version_id


def set_default(tx: Tx, policy: CustomPolicy, version_id: str, now: str) -> None:
    tx.run(
        _UPDATE_POLICY,
        {
            "account_id": policy.account_id,
            "name_key": name_key(policy.policy_name),
            "default_version": version_id,
            "next_version": policy.next_version,
            "now": now,
        },
    )


def delete_version(tx: Tx, policy: CustomPolicy, version_id: str) -> None:
    params = {"account_id": policy.account_id, "name_key": name_key(policy.policy_name), "version_id": version_id}
    tx.run(_DELETE_VERSION, params)


# --- attachments ----------------------------------------------------------------------------


def attach(
    tx: Tx, account_id: str, principal_type: str, principal_id: str, policy_type: str, policy_name: str, now: str
) -> bool:
    """Attach; False if it was attached already."""
    params = {
        "account_id": account_id,
        "principal_type": principal_type,
        "principal_id": principal_id,
        "policy_type": policy_type,
        "name_key": name_key(policy_name),
        "now": now,
    }
    return tx.run(_ATTACH, params) == 1


def detach(tx: Tx, account_id: str, principal_type: str, principal_id: str, policy_type: str, policy_name: str) -> bool:
    params = {
        "account_id": account_id,
        "principal_type": principal_type,
        "principal_id": principal_id,
        "policy_type": policy_type,
        "name_key": name_key(policy_name),
    }
    return tx.run(_DETACH, params) == 1


def attachments_of(tx: Tx, account_id: str, principal_type: str, principal_id: str) -> list[Attachment]:
    params = {"account_id": account_id, "principal_type": principal_type, "principal_id": principal_id}
    return [Attachment(*row) for row in tx.all(_ATTACHMENTS_OF, params)]


def attachments_to(tx: Tx, account_id: str, policy_type: str, policy_name: str) -> list[Attachment]:
    params = {"account_id": account_id, "policy_type": policy_type, "name_key": name_key(policy_name)}
    return [Attachment(*row) for row in tx.all(_ENTITIES_FOR, params)]


def attachment_count(tx: Tx, account_id: str, policy_type: str, policy_name: str) -> int:
    params = {"account_id": account_id, "policy_type": policy_type, "name_key": name_key(policy_name)}
    return int(tx.scalar(_ATTACHMENT_COUNT, params))


def governing_documents(
    tx: Tx, account_id: str, principal_type: str, principal_id: str
) -> list[tuple[str, str, str | None]]:
    """(policy type, policy name key, default document or None for system policies) of every policy
    that applies to a user (directly or through its groups) or a role."""
    statement = _USER_DOCUMENTS if principal_type == USER else _ROLE_DOCUMENTS
    rows = tx.all(statement, {"account_id": account_id, "principal_id": principal_id})
    return [(row[0], row[1], row[2]) for row in rows]
