"""RAM policies: custom policies with up to five versions, and the read-only system policies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecsram.contract import paging
from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Boolean, Checked
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.iam.policy import MalformedPolicy, PolicyKind, parse_policy
from ecsram.iam.system_policies import SYSTEM_POLICIES
from ecsram.services.ram import errors
from ecsram.services.ram.common import PAGING_PARAMS, length_limited, resource
from ecsram.services.ram.names import POLICY
from ecsram.store import policies
from ecsram.store.policies import CUSTOM, MAX_VERSIONS, SYSTEM, CustomPolicy
from ecsram.store.times import iso

MAX_CUSTOM_POLICIES = 1500
MAX_DOCUMENT_LENGTH = 6144
ROTATE = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
# A fixed date for the system policies, which exist in every account from the start.
SYSTEM_DATE = "2015-04-28T16:00:00Z"
_SYSTEM_BY_KEY = {name.lower(): policy for name, policy in SYSTEM_POLICIES.items()}


def policy_document(raw: str) -> str:
    """A custom policy document: too long -> InvalidParameter.PolicyDocument.Length, invalid -> Malformed."""
    if len(raw) > MAX_DOCUMENT_LENGTH:
        raise ApiError(
            "InvalidParameter.PolicyDocument.Length",
            400,
            f"The maximum length of the policy document ({MAX_DOCUMENT_LENGTH} characters) is exceeded.",
        )
    try:
        parse_policy(raw, PolicyKind.IDENTITY)
    except MalformedPolicy as exc:
        raise errors.malformed_policy(str(exc)) from None
    return raw


def _policy_type(raw: str) -> str:
    if raw not in (SYSTEM, CUSTOM):
        raise ApiError("InvalidParameter.PolicyType", 400, 'The parameter - "PolicyType" must be System or Custom.')
    return raw


def policy_type_param(required: bool = True) -> Checked:
    return Checked("PolicyType", required=required, check=_policy_type)


@dataclass(frozen=True, slots=True)
class AnyPolicy:
    """A system or custom policy, as the read operations show it."""

    policy_type: str
    policy_name: str
    description: str
    default_version: str
    created_at: str
    updated_at: str
    custom: CustomPolicy | None = None

    def view(self, attachment_count: int | None = None) -> dict[str, Any]:
        view: dict[str, Any] = {
            "PolicyName": self.policy_name,
            "PolicyType": self.policy_type,
            "Description": self.description,
            "DefaultVersion": self.default_version,
            "CreateDate": self.created_at,
            "UpdateDate": self.updated_at,
        }
        if attachment_count is not None:
            view["AttachmentCount"] = attachment_count
        return view


def _from_custom(policy: CustomPolicy) -> AnyPolicy:
    return AnyPolicy(
        CUSTOM,
        policy.policy_name,
        policy.description,
        policy.default_version,
        policy.created_at,
        policy.updated_at,
        policy,
    )


def existing_policy(call: Call, policy_type: str, policy_name: str) -> AnyPolicy:
    if policy_type == SYSTEM:
        system = _SYSTEM_BY_KEY.get(policy_name.lower())
        if system is not None:
            return AnyPolicy(SYSTEM, system.name, system.description, "v1", SYSTEM_DATE, SYSTEM_DATE)
    else:
        custom = policies.find(call.store, call.caller.account_id, policy_name)
        if custom is not None:
            return _from_custom(custom)
    raise errors.entity_not_exist("Policy", policy_name)


def existing_custom(call: Call, policy_name: str) -> CustomPolicy:
    found = existing_policy(call, CUSTOM, policy_name).custom
    assert found is not None
    return found


def _versions(call: Call, policy: AnyPolicy) -> list[dict[str, Any]]:
    if policy.custom is None:
        document = _SYSTEM_BY_KEY[policy.policy_name.lower()].document
        return [{"VersionId": "v1", "IsDefaultVersion": True, "PolicyDocument": document, "CreateDate": SYSTEM_DATE}]
    return [
        {
            "VersionId": v.version_id,
            "IsDefaultVersion": v.version_id == policy.default_version,
            "PolicyDocument": v.document,
            "CreateDate": v.created_at,
        }
        for v in policies.versions(call.store, policy.custom)
    ]


def _version(call: Call, policy: AnyPolicy, version_id: str) -> dict[str, Any]:
    for version in _versions(call, policy):
        if version["VersionId"] == version_id:
            return version
    raise errors.entity_not_exist("Policy.Version", f"{policy.policy_name} {version_id}")


# --- operations -----------------------------------------------------------------------------


def create_policy(call: Call) -> dict[str, Any]:
    args = call.args
    account_id = call.caller.account_id
    if policies.count(call.store, account_id) >= MAX_CUSTOM_POLICIES:
        raise errors.limit_exceeded("Policy", MAX_CUSTOM_POLICIES)
    now = iso(call.now)
    description = args["Description"] or ""
    if not policies.create(call.store, account_id, args["PolicyName"], description, args["PolicyDocument"], now):
        raise errors.entity_already_exists("Policy", args["PolicyName"])
    view = AnyPolicy(CUSTOM, args["PolicyName"], description, "v1", now, now).view()
    del view["UpdateDate"]
    return {"Policy": view}


def get_policy(call: Call) -> dict[str, Any]:
    policy = existing_policy(call, call.args["PolicyType"], call.args["PolicyName"])
    count = policies.attachment_count(call.store, call.caller.account_id, policy.policy_type, policy.policy_name)
    default = _version(call, policy, policy.default_version)
    view = policy.view(count)
    view["PolicyDocument"] = default["PolicyDocument"]
    return {"Policy": view, "DefaultPolicyVersion": default}


def delete_policy(call: Call) -> dict[str, Any]:
    policy = existing_custom(call, call.args["PolicyName"])
    for attachment in policies.attachments_to(call.store, policy.account_id, CUSTOM, policy.policy_name):
        kind = attachment.principal_type.capitalize()
        raise errors.delete_conflict(f"Policy.{kind}", f"The policy is attached to a {attachment.principal_type}.")
    if len(policies.versions(call.store, policy)) > 1:
        raise errors.delete_conflict("Policy.Version", "The policy has versions other than the default one.")
    policies.delete_policy(call.store, policy)
    return {}


def list_policies(call: Call) -> dict[str, Any]:
    """System policies first, then custom ones, each in name order; the Marker carries both."""
    wanted = call.args["PolicyType"]
    limit: int = call.args["MaxItems"]
    after_type, _, after_key = (call.args["Marker"] or "").partition("|")
    page: list[AnyPolicy] = []
    if wanted in (None, SYSTEM) and after_type in ("", SYSTEM):
        for key in sorted(_SYSTEM_BY_KEY):
            if after_type == SYSTEM and key <= after_key:
                continue
            system = _SYSTEM_BY_KEY[key]
            page.append(AnyPolicy(SYSTEM, system.name, system.description, "v1", SYSTEM_DATE, SYSTEM_DATE))
    if wanted in (None, CUSTOM) and len(page) <= limit:
        after = after_key if after_type == CUSTOM else ""
        customs = policies.list_page(call.store, call.caller.account_id, after=after, limit=limit + 1 - len(page))
        page.extend(_from_custom(c) for c in customs)
    truncated = len(page) > limit
    page = page[:limit]
    result: dict[str, Any] = {"IsTruncated": truncated}
    if truncated:
        last = page[-1]
        result["Marker"] = paging.encode(f"{last.policy_type}|{last.policy_name.lower()}")
    account_id = call.caller.account_id
    result["Policies"] = {
        "Policy": [
            p.view(policies.attachment_count(call.store, account_id, p.policy_type, p.policy_name)) for p in page
        ]
    }
    return result


def create_policy_version(call: Call) -> dict[str, Any]:
    args = call.args
    policy = existing_custom(call, args["PolicyName"])
    existing = policies.versions(call.store, policy)
    if len(existing) >= MAX_VERSIONS:
        if args["RotateStrategy"] != ROTATE:
            raise errors.limit_exceeded("Policy.Version", MAX_VERSIONS)
        oldest = next(v for v in existing if v.version_id != policy.default_version)
        policies.delete_version(call.store, policy, oldest.version_id)
    now = iso(call.now)
    version_id = policies.add_version(
        call.store, policy, args["PolicyDocument"], make_default=bool(args["SetAsDefault"]), now=now
    )
    return {
        "PolicyVersion": {
            "VersionId": version_id,
            "IsDefaultVersion": bool(args["SetAsDefault"]),
            "PolicyDocument": args["PolicyDocument"],
            "CreateDate": now,
        }
    }


def set_default_policy_version(call: Call) -> dict[str, Any]:
    policy = existing_custom(call, call.args["PolicyName"])
    version = _version(call, _from_custom(policy), call.args["VersionId"])
    policies.set_default(call.store, policy, version["VersionId"], iso(call.now))
    return {}


def list_policy_versions(call: Call) -> dict[str, Any]:
    policy = existing_policy(call, call.args["PolicyType"], call.args["PolicyName"])
    return {"PolicyVersions": {"PolicyVersion": _versions(call, policy)}}


def get_policy_version(call: Call) -> dict[str, Any]:
    policy = existing_policy(call, call.args["PolicyType"], call.args["PolicyName"])
    return {"PolicyVersion": _version(call, policy, call.args["VersionId"])}


def delete_policy_version(call: Call) -> dict[str, Any]:
    policy = existing_custom(call, call.args["PolicyName"])
    version = _version(call, _from_custom(policy), call.args["VersionId"])
    if version["IsDefaultVersion"]:
        raise errors.delete_conflict("Policy.DefaultVersion", "The default version of a policy cannot be deleted.")
    policies.delete_version(call.store, policy, version["VersionId"])
    return {}


def _rotate_strategy(raw: str) -> str:
    if raw not in ("None", ROTATE):
        raise ApiError(
            "InvalidParameter.RotateStrategy", 400, f'The parameter - "RotateStrategy" must be None or {ROTATE}.'
        )
    return raw


_policy = resource("policy", "PolicyName")
_NAME = POLICY.param("PolicyName")
_DOCUMENT = Checked("PolicyDocument", required=True, check=policy_document)
_VERSION_ID = Checked("VersionId", required=True)

OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ram",
        "CreatePolicy",
        create_policy,
        params=(_NAME, _DOCUMENT, length_limited("Description", 1024)),
        resources=_policy,
    ),
    operation("ram", "GetPolicy", get_policy, params=(policy_type_param(), _NAME), resources=_policy),
    operation("ram", "DeletePolicy", delete_policy, params=(_NAME,), resources=_policy),
    operation(
        "ram",
        "ListPolicies",
        list_policies,
        params=(policy_type_param(required=False), *PAGING_PARAMS),
        resources=resource("policy", ""),
    ),
    operation(
        "ram",
        "CreatePolicyVersion",
        create_policy_version,
        params=(
            _NAME,
            _DOCUMENT,
            Boolean("SetAsDefault", default=False),
            Checked("RotateStrategy", default="None", check=_rotate_strategy),
        ),
        resources=_policy,
    ),
    operation(
        "ram", "SetDefaultPolicyVersion", set_default_policy_version, params=(_NAME, _VERSION_ID), resources=_policy
    ),
    operation(
        "ram", "ListPolicyVersions", list_policy_versions, params=(policy_type_param(), _NAME), resources=_policy
    ),
    operation(
        "ram",
        "GetPolicyVersion",
        get_policy_version,
        params=(policy_type_param(), _NAME, _VERSION_ID),
        resources=_policy,
    ),
    operation("ram", "DeletePolicyVersion", delete_policy_version, params=(_NAME, _VERSION_ID), resources=_policy),
)
