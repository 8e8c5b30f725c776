"""The instance metadata service: what software on an instance sees at http://100.100.100.200.

One request names its instance (the proxy user name, or a listener pinned to one instance),
and is answered from the store: the instance's ID and region, and its bound RAM role with
temporary credentials of that role, narrowed by the ``Policy`` given when it was attached.

Credentials are issued per instance, binding and one-hour window: every fetch in the same hour
returns the same set, valid for six hours, so clients (which refresh 15 minutes before expiry)
always find fresh ones. After a detach the role is gone from the listing at once; credentials
already issued keep working until they expire, as STS credentials do.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ecsram.clock import Clock
from ecsram.config import ascii_int
from ecsram.iam.tokens import TokenAuthority, TokenError
from ecsram.iam.trust import trusts_ecs
from ecsram.services.ecs.instance_model import decoded_user_data, gateway, netmask
from ecsram.store import instances, roles, trail
from ecsram.store.database import Database, DatabaseUnavailable
from ecsram.store.instances import Instance
from ecsram.store.named import name_key
from ecsram.store.sql import Tx
from ecsram.store.times import iso

TOKEN_TTL_HEADER = "x-aliyun-ecs-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aliyun-ecs-metadata-token"
MAX_TOKEN_TTL = 21600
REFRESH_WINDOW_SECONDS = 3600
CREDENTIALS_LIFETIME_SECONDS = 6 * 3600
_RUNNING = "Running"
# The audit trail's name for a credential fetch through the metadata service (docs/trail.md).
CREDENTIALS_EVENT = "GetInstanceRamRoleCredentials"

log = logging.getLogger("ecsram.imds")


# ``/latest/`` and dated versions such as ``/2016-01-01/`` serve the same items.
_PREFIX = re.compile(r"/(?:latest|[0-9]{4}-[0-9]{2}-[0-9]{2})(?:/(.*))?")
CREDENTIALS_ITEM = "meta-data/ram/security-credentials/"
# Alibaba Cloud's internal DNS servers, as every VPC instance is given them.
NAMESERVERS = ("100.100.2.136", "100.100.2.138")

Tree = dict[str, "Tree | str"]


_UNAVAILABLE = "The metadata service cannot reach its database; try again."
# What a credential fetch hands to the audit trail: the instance, the role's ID, the AccessKey.
Fetched = tuple[Instance, str, str]


def _fetches_credentials(path: str) -> bool:
    item = _item_path(path)
    return item is not None and item.startswith(CREDENTIALS_ITEM) and len(item) > len(CREDENTIALS_ITEM)


def _fetch_event(
    request: MetadataRequest, instance: Instance, role_id: str, access_key_id: str, at: int
) -> trail.TrailEvent:
    role_name = instance.ram_role_name or ""
    return {
        "event_id": str(uuid.uuid4()).upper(),
        "account_id": instance.account_id,
        "event_time": at,
        "event_name": CREDENTIALS_EVENT,
        "service_name": "Ecs",
        "kind": trail.ROLE | trail.METADATA,
        "access_key_id": access_key_id,
        "principal_id": f"{role_id}:{instance.instance_id}",
        "user_name": f"{role_name}:{instance.instance_id}",
        "source_ip": trail.METADATA_SOURCE,
        "user_agent": request.headers.get("user-agent", "")[:512].replace("\x00", ""),
        "region": instance.region_id,
        "resource_names": trail.join_resources((instance.instance_id, role_name)),
        "resource_types": "ACS::ECS::Instance;ACS::RAM::Role",
        "request_parameters": None,
        "status": 200,
        "error_code": None,
        "error_message": None,
    }


def _item_path(path: str) -> str | None:
    """The item a metadata path names, relative to its version prefix (``meta-data/instance-id``);
    ``meta-data/Ram/...`` is the same as ``meta-data/ram/...`` (Ansible and ossutil use the capital R)."""
    match = _PREFIX.fullmatch(path)
    if match is None:
        return None
    item = match.group(1) or ""
    if item.startswith("meta-data/Ram"):
        item = "meta-data/ram" + item[len("meta-data/Ram") :]
    return item


def _interface(instance: Instance) -> Tree:
    interface: Tree = {
        "network-interface-id": instance.network_interface_id,
        "primary-ip-address": instance.private_ip,
        "private-ipv4s": orjson.dumps([instance.private_ip]).decode(),
    }
    if instance.vswitch_cidr is not None and instance.vpc_cidr is not None:
        interface.update(
            {
                "gateway": gateway(instance.vswitch_cidr),
                "netmask": netmask(instance.vswitch_cidr),
                "vpc-cidr-block": instance.vpc_cidr,
                "vpc-id": instance.vpc_id or "",
                "vswitch-cidr-block": instance.vswitch_cidr,
                "vswitch-id": instance.vswitch_id or "",
            }
        )
    return dict(sorted(interface.items()))


def _tree(instance: Instance) -> dict[str, Tree | str]:
    """Every item and listing, by path below the version prefix (without a trailing slash)."""
    meta: Tree = {
        "dns-conf": {"nameservers": "\n".join(NAMESERVERS)},
        "hostname": instance.host_name,
        "image-id": instance.image_id,
        "instance": {"instance-type": instance.instance_type},
        "instance-id": instance.instance_id,
        "mac": instance.mac_address,
        "network": {"interfaces": {"macs": {instance.mac_address: _interface(instance)}}},
        "network-type": instance.network_type,
        "owner-account-id": instance.account_id,
        "private-ipv4": instance.private_ip,
        "region-id": instance.region_id,
        "serial-number": instance.serial_number,
        "zone-id": instance.zone_id,
    }
    if instance.ram_role_name is not None:
        meta["ram"] = {"security-credentials": {instance.ram_role_name: ""}}
    if instance.vpc_cidr is not None and instance.vswitch_cidr is not None:
        meta.update(
            {
                "vpc-cidr-block": instance.vpc_cidr,
                "vpc-id": instance.vpc_id or "",
                "vswitch-cidr-block": instance.vswitch_cidr,
                "vswitch-id": instance.vswitch_id or "",
            }
        )
    root: Tree = {"dynamic": {"instance-identity": {"document": ""}}, "meta-data": dict(sorted(meta.items()))}
    if instance.user_data:
        root["user-data"] = ""
    paths: dict[str, Tree | str] = {}

    def walk(prefix: str, node: Tree | str) -> None:
        paths[prefix] = node
        if isinstance(node, dict):
            for name, child in node.items():
                walk(f"{prefix}/{name}" if prefix else name, child)

    walk("", root)
    return paths


def _identity_document(instance: Instance) -> dict[str, str]:
    return {
        "instance-id": instance.instance_id,
        "region-id": instance.region_id,
        "zone-id": instance.zone_id,
        "owner-account-id": instance.account_id,
        "instance-type": instance.instance_type,
        "image-id": instance.image_id,
        "private-ipv4": instance.private_ip,
        "serial-number": instance.serial_number,
        "mac": instance.mac_address,
    }


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    method: str
    path: str
    headers: dict[str, str]
    instance_id: str | None
    secret: str | None
    via_proxy: bool


@dataclass(frozen=True, slots=True)
class MetadataResponse:
    status: int
    body: bytes
    json: bool = False
    proxy_challenge: bool = False
    # A credential fetch, for the audit trail: (instance, role) and the credentials' AccessKeyId.
    fetched: Fetched | None = None


def _text(status: int, message: str, *, proxy_challenge: bool = False) -> MetadataResponse:
    return MetadataResponse(status, message.encode(), proxy_challenge=proxy_challenge)


class MetadataService:
    def __init__(
        self, database: Database, clock: Clock, tokens: TokenAuthority, *, require_secret: bool, trail: bool = False
    ) -> None:
        self.database = database
        self.clock = clock
        self.tokens = tokens
        self.require_secret = require_secret
        self.trail = trail

    def handle_many(self, requests: Sequence[MetadataRequest]) -> list[MetadataResponse]:
        """Answer requests that arrived together, each in its place: those that need the store
        in one transaction, with the audit trail's events of their credential fetches written in
        it (one write transaction per batch instead of one per fetch, as the API's group commit).
        Recording never fails a fetch: an event that cannot be written is logged, and an answer
        read before the store failed is still given."""
        answers: list[MetadataResponse | None] = [self._refusal(request) for request in requests]
        waiting = [index for index, answer in enumerate(answers) if answer is None]
        if waiting:
            self._answer_from_store(requests, answers, waiting)
        return [answer or _text(503, _UNAVAILABLE) for answer in answers]

    def _refusal(self, request: MetadataRequest) -> MetadataResponse | None:
        """The answer of a request refused before the store is read, or None."""
        if request.instance_id is None:
            how = "the proxy user name (http://<instance-id>:@host:port)" if request.via_proxy else "a pinned listener"
            return _text(
                407 if request.via_proxy else 400, f"Name the instance with {how}.", proxy_challenge=request.via_proxy
            )
        if self.require_secret and request.secret != self.tokens.instance_secret(request.instance_id):
            return _text(403, "This metadata service needs the instance's access secret as the proxy password.")
        return None

    def _answer_from_store(
        self, requests: Sequence[MetadataRequest], answers: list[MetadataResponse | None], waiting: list[int]
    ) -> None:
        record = self.trail and any(_fetches_credentials(requests[index].path) for index in waiting)
        try:
            with self.database.transaction(write=record) as tx:
                fetches: list[tuple[MetadataRequest, Fetched]] = []
                for index in waiting:
                    answer = self._answer_one(tx, requests[index])
                    answers[index] = answer
                    if answer.fetched is not None:
                        fetches.append((requests[index], answer.fetched))
                if record and fetches:
                    self._record_fetches(tx, fetches)
        except DatabaseUnavailable as exc:
            log.warning("metadata requests: the store is unavailable: %s", exc)
        except Exception:  # the store failed otherwise (a savepoint, the COMMIT): the answers read stand
            log.exception("the credential fetches of a metadata batch could not be recorded")

    def _answer_one(self, tx: Tx, request: MetadataRequest) -> MetadataResponse:
        try:
            return self._answer(tx, request)
        except DatabaseUnavailable:
            raise
        except Exception:
            log.exception("metadata request %s %s failed unexpectedly", request.method, request.path[:128])
            return _text(500, "The metadata service failed to answer; see the server log.")

    def _record_fetches(self, tx: Tx, fetches: list[tuple[MetadataRequest, Fetched]]) -> None:
        """Record credential fetches in the audit trail, in a savepoint: a failure undoes the
        events alone and is logged."""
        savepoint = tx.savepoint()
        try:
            at = int(self.clock.now(tx) * 1000)
            trail.record(tx, [_fetch_event(request, *fetched, at) for request, fetched in fetches])
        except Exception:
            log.exception("%d credential fetches could not be recorded", len(fetches))
            savepoint.rollback()
        savepoint.release()

    def _answer(self, tx: Tx, request: MetadataRequest) -> MetadataResponse:
        assert request.instance_id is not None
        instance = instances.get_any(tx, request.instance_id)
        if instance is None:
            return _text(404, f"Unknown instance {request.instance_id[:64]}.")
        if instance.status != _RUNNING:
            return _text(
                409, f"Instance {instance.instance_id} is {instance.status}; only a running instance has metadata."
            )
        if instance.http_endpoint != "enabled":
            return _text(403, f"The metadata service of {instance.instance_id} is disabled (HttpEndpoint=disabled).")
        now = self.clock.now(tx)

        if _item_path(request.path) == "api/token":
            if request.method != "PUT":
                return _text(405, "Use PUT to get a metadata token.")
            return self._token(instance, request, now)
        if request.method != "GET":
            return _text(405, "The metadata service answers GET (and PUT /latest/api/token).")
        token = request.headers.get(TOKEN_HEADER)
        if token is not None:
            try:
                self.tokens.verify_metadata_token(token, instance.instance_id, now)
            except TokenError:
                return _text(401, "The metadata token is invalid, expired, or was issued to another instance.")
        elif instance.http_tokens == "required":
            return _text(
                403, "This instance requires a metadata token (HttpTokens=required): PUT /latest/api/token first."
            )
        return self._read(tx, instance, request.path, now)

    def _token(self, instance: Instance, request: MetadataRequest, now: float) -> MetadataResponse:
        ttl = ascii_int(request.headers.get(TOKEN_TTL_HEADER, ""))
        if ttl is None or not 1 <= ttl <= MAX_TOKEN_TTL:
            return _text(400, f"{TOKEN_TTL_HEADER} must be an integer from 1 to {MAX_TOKEN_TTL}.")
        token = self.tokens.issue_metadata_token(instance.instance_id, int(now) + ttl)
        return MetadataResponse(200, token.encode())

    def _read(self, tx: Tx, instance: Instance, path: str, now: float) -> MetadataResponse:
        item = _item_path(path)
        if item is None:
            return _text(404, "Not found.")
        if item in ("meta-data/ram/security-credentials", "meta-data/ram/security-credentials/"):
            if instance.ram_role_name is None:
                return _text(404, "No RAM role is attached to this instance.")
            # The bare name, no newline: the Python provider uses the body as is in the next path.
            return _text(200, instance.ram_role_name)
        if item.startswith(CREDENTIALS_ITEM):
            return self._credentials(tx, instance, item[len(CREDENTIALS_ITEM) :], now)
        if item == "user-data":
            if not instance.user_data:
                return _text(404, "No user data was given to this instance.")
            return MetadataResponse(200, decoded_user_data(instance.user_data))
        if item == "dynamic/instance-identity/document":
            return MetadataResponse(200, orjson.dumps(_identity_document(instance)), json=True)
        answer = _tree(instance).get(item.rstrip("/"))
        if answer is None or (item.endswith("/") and not isinstance(answer, dict)):
            return _text(404, "Not found.")
        if isinstance(answer, dict):
            return _text(
                200, "\n".join(f"{name}/" if isinstance(value, dict) else name for name, value in answer.items())
            )
        return _text(200, answer)

    def _credentials(self, tx: Tx, instance: Instance, role_name: str, now: float) -> MetadataResponse:
        bound = instance.ram_role_name
        if bound is None or name_key(bound) != name_key(role_name):
            return _text(404, f"The RAM role {role_name[:64]} is not attached to this instance.")
        role = roles.find(tx, instance.account_id, bound)
        if role is None:
            return _text(404, f"The RAM role {bound} attached to this instance no longer exists.")
        if not trusts_ecs(role.assume_role_policy):
            return _text(403, f"The RAM role {bound} no longer trusts ecs.aliyuncs.com.")
        window = int(now) // REFRESH_WINDOW_SECONDS * REFRESH_WINDOW_SECONDS
        credentials = self.tokens.issue_session(
            account_id=instance.account_id,
            role_id=role.role_id,
            role_name=role.role_name,
            session_name=instance.instance_id,
            expires_at=window + CREDENTIALS_LIFETIME_SECONDS,
            policy=instance.ram_role_policy,
            seed=f"{instance.instance_id}|{role.role_id}|{instance.ram_role_attached_at}|{window}",
        )
        document = {
            "AccessKeyId": credentials.access_key_id,
            "AccessKeySecret": credentials.access_key_secret,
            "SecurityToken": credentials.security_token,
            "Expiration": iso(credentials.expires_at),
            "LastUpdated": iso(window),
            "Code": "Success",
        }
        return MetadataResponse(
            200, orjson.dumps(document), json=True, fetched=(instance, role.role_id, credentials.access_key_id)
        )
