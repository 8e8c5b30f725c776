"""RAM users and their AccessKeys."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Checked
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.iam.principal import PrincipalKind
from ecsram.services.ram import errors
from ecsram.services.ram.common import PAGING_PARAMS, existing_user, length_limited, paged_entities, resource
from ecsram.services.ram.names import USER
from ecsram.store import accounts, groups, policies, users
from ecsram.store.accounts import AccessKey
from ecsram.store.named import name_key
from ecsram.store.times import iso
from ecsram.store.users import MAX_KEYS_PER_USER, User

MAX_USERS_PER_ACCOUNT = 1000
_DISPLAY_NAME = re.compile(r"[A-Za-z0-9.@\-_\u4e00-\u9fa5]+")
_MOBILE = re.compile(r"[0-9]{1,4}-[0-9]{4,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def user_view(user: User, *, updated: bool = True) -> dict[str, Any]:
    view = {
        "UserId": user.user_id,
        "UserName": user.user_name,
        "DisplayName": user.display_name,
        "MobilePhone": user.mobile_phone,
        "Email": user.email,
        "Comments": user.comments,
        "CreateDate": user.created_at,
    }
    if updated:
        view["UpdateDate"] = user.updated_at
    return view


def _display_name(parameter: str) -> Checked:
    def check(raw: str) -> str:
        if len(raw) > 128:
            raise ApiError(
                f"InvalidParameter.{parameter}.Length", 400, f'The parameter - "{parameter}" beyond the length limit.'
            )
        if not _DISPLAY_NAME.fullmatch(raw):
            raise ApiError(
                f"InvalidParameter.{parameter}.InvalidChars",
                400,
                f'The parameter - "{parameter}" contains invalid chars.',
            )
        return raw

    return Checked(parameter, check=check)


def _formatted(parameter: str, pattern: re.Pattern[str], code: str) -> Checked:
    def check(raw: str) -> str:
        if len(raw) > 128 or not pattern.fullmatch(raw):
            raise ApiError(code, 400, f'The format of the parameter - "{parameter}" is incorrect.')
        return raw

    return Checked(parameter, check=check)


def create_user(call: Call) -> dict[str, Any]:
    args = call.args
    account_id = call.caller.account_id
    if users.count(call.store, account_id) >= MAX_USERS_PER_ACCOUNT:
        raise errors.limit_exceeded("User", MAX_USERS_PER_ACCOUNT)
    now = iso(call.now)
    user = User(
        user_id="2" + "".join(secrets.choice("0123456789") for _ in range(15)),
        account_id=account_id,
        user_name=args["UserName"],
        display_name=args["DisplayName"] or args["UserName"],
        mobile_phone=args["MobilePhone"] or "",
        email=args["Email"] or "",
        comments=args["Comments"] or "",
        created_at=now,
        updated_at=now,
    )
    if not users.insert(call.store, user):
        raise errors.entity_already_exists("User", user.user_name)
    return {"User": user_view(user, updated=False)}


def get_user(call: Call) -> dict[str, Any]:
    view = user_view(existing_user(call, call.args["UserName"]))
    view["LastLoginDate"] = ""
    return {"User": view}


def update_user(call: Call) -> dict[str, Any]:
    args = call.args
    user = existing_user(call, args["UserName"])
    new_name = args["NewUserName"]
    renamed = bool(new_name) and name_key(new_name) != name_key(user.user_name)
    if renamed and users.find(call.store, user.account_id, new_name) is not None:
        raise errors.entity_already_exists("User", new_name)
    updated = replace(
        user,
        user_name=new_name or user.user_name,
        display_name=args["NewDisplayName"] or user.display_name,
        mobile_phone=user.mobile_phone if args["NewMobilePhone"] is None else args["NewMobilePhone"],
        email=user.email if args["NewEmail"] is None else args["NewEmail"],
        comments=user.comments if args["NewComments"] is None else args["NewComments"],
        updated_at=iso(call.now),
    )
    users.save(call.store, updated)
    return {"User": user_view(updated)}


def delete_user(call: Call) -> dict[str, Any]:
    user = existing_user(call, call.args["UserName"])
    if users.keys_of(call.store, user.account_id, user.user_id):
        raise errors.delete_conflict("User.AccessKey", "The user has AccessKeys; delete them before the user.")
    if policies.attachments_of(call.store, user.account_id, policies.USER, user.user_id):
        raise errors.delete_conflict("User.Policy", "The user has policies attached; detach them before the user.")
    if groups.groups_of(call.store, user.user_id):
        raise errors.delete_conflict("User.Group", "The user belongs to groups; remove it from them first.")
    users.delete(call.store, user.user_id)
    return {}


def list_users(call: Call) -> dict[str, Any]:
    page, fields = paged_entities(call, users.USERS)
    return {**fields, "Users": {"User": [user_view(user) for user in page]}}


# --- AccessKeys ---------------------------------------------------------------------------


def _key_owner(call: Call) -> str | None:
    """The user whose keys the call manages: the named one, else the caller itself (None: root)."""
    name = call.args["UserName"]
    if name:
        return existing_user(call, name).user_id
    caller = call.caller
    if caller.kind is PrincipalKind.USER:
        return caller.user_id
    if caller.kind is PrincipalKind.ROOT:
        return None
    raise ApiError("InvalidParameter.UserName", 400, "A role session must name the user whose AccessKeys it manages.")


def _owned_key(call: Call, owner: str | None) -> users.StoredKey:
    wanted = call.args["UserAccessKeyId"]
    for stored in users.keys_of(call.store, call.caller.account_id, owner):
        if stored.key.access_key_id == wanted:
            return stored
    raise errors.entity_not_exist("User.AccessKey", wanted)


def create_access_key(call: Call) -> dict[str, Any]:
    owner = _key_owner(call)
    account_id = call.caller.account_id
    if len(users.keys_of(call.store, account_id, owner)) >= MAX_KEYS_PER_USER:
        raise errors.limit_exceeded("User.AccessKey", MAX_KEYS_PER_USER)
    key = AccessKey(accounts.new_access_key_id(), accounts.new_access_key_secret(), account_id, owner, accounts.ACTIVE)
    accounts.insert_access_key(call.store, key, call.now)
    return {
        "AccessKey": {
            "AccessKeyId": key.access_key_id,
            "AccessKeySecret": key.secret,
            "Status": key.status,
            "CreateDate": iso(call.now),
        }
    }


def update_access_key(call: Call) -> dict[str, Any]:
    stored = _owned_key(call, _key_owner(call))
    users.set_key_status(call.store, stored.key.access_key_id, call.args["Status"])
    return {}


def delete_access_key(call: Call) -> dict[str, Any]:
    stored = _owned_key(call, _key_owner(call))
    users.delete_key(call.store, stored.key.access_key_id)
    return {}


def list_access_keys(call: Call) -> dict[str, Any]:
    keys = users.keys_of(call.store, call.caller.account_id, _key_owner(call))
    items = [{"AccessKeyId": k.key.access_key_id, "Status": k.key.status, "CreateDate": k.created_at} for k in keys]
    return {"AccessKeys": {"AccessKey": items}}


def _status(raw: str) -> str:
    if raw not in (accounts.ACTIVE, accounts.INACTIVE):
        raise ApiError("InvalidParameter.Status", 400, 'The parameter - "Status" must be Active or Inactive.')
    return raw


_user = resource("user", "UserName")
_PROFILE = (
    _display_name("DisplayName"),
    _formatted("MobilePhone", _MOBILE, "InvalidParameter.MobilePhone.Format"),
    _formatted("Email", _EMAIL, "InvalidParameter.Email.Format"),
    length_limited("Comments", 128),
)

OPERATIONS: tuple[Operation, ...] = (
    operation("ram", "CreateUser", create_user, params=(USER.param("UserName"), *_PROFILE), resources=_user),
    operation("ram", "GetUser", get_user, params=(USER.param("UserName"),), resources=_user),
    operation(
        "ram",
        "UpdateUser",
        update_user,
        params=(
            USER.param("UserName"),
            USER.param("NewUserName", required=False),
            _display_name("NewDisplayName"),
            _formatted("NewMobilePhone", _MOBILE, "InvalidParameter.NewMobilePhone.Format"),
            _formatted("NewEmail", _EMAIL, "InvalidParameter.NewEmail.Format"),
            length_limited("NewComments", 128),
        ),
        resources=_user,
    ),
    operation("ram", "DeleteUser", delete_user, params=(USER.param("UserName"),), resources=_user),
    operation("ram", "ListUsers", list_users, params=PAGING_PARAMS, resources=resource("user", "")),
    operation(
        "ram", "CreateAccessKey", create_access_key, params=(USER.param("UserName", required=False),), resources=_user
    ),
    operation(
        "ram",
        "UpdateAccessKey",
        update_access_key,
        params=(
            USER.param("UserName", required=False),
            Checked("UserAccessKeyId", required=True),
            Checked("Status", required=True, check=_status),
        ),
        resources=_user,
    ),
    operation(
        "ram",
        "DeleteAccessKey",
        delete_access_key,
        params=(USER.param("UserName", required=False), Checked("UserAccessKeyId", required=True)),
        resources=_user,
    ),
    operation(
        "ram", "ListAccessKeys", list_access_keys, params=(USER.param("UserName", required=False),), resources=_user
    ),
)
