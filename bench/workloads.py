"""Workloads: what a scenario sends, as lanes of pre-signed requests built before the timed phase.

Every request a workload makes is distinct (its own nonce, and for ecsram a V1 signature over
it), except the hello pool, which the hello server ignores and may therefore be re-sent.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.ecsapi import ECS_VERSION, REGION, instance_ids_param
from bench.loadgen.common import Follow, Lane
from bench.signer import NonceSource, V1Signer, canonical_query, sigv4_headers, utc_timestamp

ITEM_FAILED = '"Success":false'
# An Attach answer names its instance; the pattern only matches Attach answers (a Detach answer
# says "DetachInstanceRamRoleResults"), so a Detach is released by its own instance's Attach.
ATTACH_FOLLOW = Follow(
    lua_pattern=r'AttachInstanceRamRoleResults.-"InstanceId":"(i%-%w+)"',
    regex=r'AttachInstanceRamRoleResults.*?"InstanceId":"(i-\w+)"',
)
# A Detach answer frees its instance for the lane's next cycle on it.
DETACH_DONE = Follow(
    lua_pattern=r'DetachInstanceRamRoleResults.-"InstanceId":"(i%-%w+)"',
    regex=r'DetachInstanceRamRoleResults.*?"InstanceId":"(i-\w+)"',
)
MOTO_FOLLOW = Follow(
    lua_pattern=r"<AssociateIamInstanceProfileResponse.-<associationId>(iip%-assoc%-%w+)</associationId>",
    regex=r"<AssociateIamInstanceProfileResponse.*?<associationId>(iip-assoc-\w+)</associationId>",
)
MOTO_DONE = Follow(
    lua_pattern=r"<DisassociateIamInstanceProfileResponse.-<instanceId>(i%-%w+)</instanceId>",
    regex=r"<DisassociateIamInstanceProfileResponse.*?<instanceId>(i-\w+)</instanceId>",
)
METADATA_HOST = "100.100.100.200"


def ecs_target(signer: V1Signer, params: Mapping[str, str], timestamp: str) -> str:
    return signer.target({"Version": ECS_VERSION, **params}, timestamp=timestamp)


class PoolExhausted(RuntimeError):
    """An attach-only workload has used every fresh instance it was given."""


@dataclass
class Workload:
    """Base: subclasses make the lane lines; the flags say how the generator treats the answers."""

    name: str
    fail_marker: str | None = None
    follow: Follow | None = None
    done: Follow | None = None
    template: str | None = None
    wrap: bool = False
    requests_per_line: int = 1  # a cycle line is an attach plus the detach it releases
    rate_hint: float = 1000.0  # requests/s assumed before the warm-up has measured the real rate

    def lanes(self, lanes: int, requests: int) -> list[Lane]:
        raise NotImplementedError

    def after_run(self) -> None:
        """Called once the run's answers are in (the attach-only workload frees its instances here)."""

    def lines_per_lane(self, lanes: int, requests: int) -> int:
        return max(1, math.ceil(requests / self.requests_per_line / lanes))


@dataclass
class SignedCalls(Workload):
    """Independent signed calls; ``params(n)`` gives the n-th call's parameters (n runs on across runs)."""

    signer: V1Signer | None = None
    params: Callable[[int], Mapping[str, str]] = lambda n: {}
    counter: int = 0

    def lanes(self, lanes: int, requests: int) -> list[Lane]:
        assert self.signer is not None
        per_lane = self.lines_per_lane(lanes, requests)
        timestamp = utc_timestamp()
        result = []
        for _ in range(lanes):
            lines = []
            for _ in range(per_lane):
                lines.append(ecs_target(self.signer, self.params(self.counter), timestamp))
                self.counter += 1
            result.append(Lane(lines))
        return result


@dataclass
class RepeatablePool(Workload):
    """A fixed pool of lines that may be re-sent: only for the hello baseline, which ignores them."""

    pool: Sequence[str] = ()

    def lanes(self, lanes: int, requests: int) -> list[Lane]:
        return [Lane(list(self.pool[k::lanes])) for k in range(lanes)]


@dataclass
class AttachDetachCycles(Workload):
    """AttachInstanceRamRole(i) then, once answered, DetachInstanceRamRole(i), for distinct i.

    Each lane owns a disjoint slice of the instances and walks it round robin; an instance is
    busy from its Attach until its Detach is answered, and the generator defers its next cycle
    until then (see walk.lua), so cycles on one instance never overlap.
    """

    signer: V1Signer | None = None
    role: str = ""
    instance_ids: Sequence[str] = ()
    cursors: dict[int, int] = field(default_factory=dict)
    # Untimed, after each run: undo the attaches whose answer came after the generator stopped.
    cleanup: Callable[[], None] | None = None

    def after_run(self) -> None:
        if self.cleanup is not None:
            self.cleanup()

    def lanes(self, lanes: int, requests: int) -> list[Lane]:
        assert self.signer is not None
        per_lane = self.lines_per_lane(lanes, requests)
        timestamp = utc_timestamp()
        result = []
        for k in range(lanes):
            owned = self.instance_ids[k::lanes]
            # At most one cycle per connection is in progress when a line is picked, so a lane
            # needs more instances than connections for one of them to be free (walk.lua).
            lane = Lane()
            for _ in range(per_lane):
                position = self.cursors.get(k, 0)
                self.cursors[k] = position + 1
                instance = owned[position % len(owned)]
                ids = instance_ids_param([instance])
                attach = {"RegionId": REGION, "RamRoleName": self.role, "InstanceIds": ids}
                detach = {"RegionId": REGION, "RamRoleName": self.role, "InstanceIds": ids}
                lane.lines.append(ecs_target(self.signer, {"Action": "AttachInstanceRamRole", **attach}, timestamp))
                lane.keys.append(instance)
                lane.follows.append(
                    (instance, ecs_target(self.signer, {"Action": "DetachInstanceRamRole", **detach}, timestamp))
                )
            result.append(lane)
        return result


def attach_detach_cycles(
    signer: V1Signer, role: str, instance_ids: Sequence[str], cleanup: Callable[[], None] | None = None
) -> AttachDetachCycles:
    return AttachDetachCycles(
        "attach+detach",
        cleanup=cleanup,
        fail_marker=ITEM_FAILED,
        follow=ATTACH_FOLLOW,
        done=DETACH_DONE,
        requests_per_line=2,
        signer=signer,
        role=role,
        instance_ids=instance_ids,
    )


@dataclass
class InstancePool:
    """Unbound instances for attach-only runs: a run takes fresh ones, ``recycle`` unbinds them
    afterwards (untimed) so the next run can use them again; ``refill(n)`` makes n more."""

    refill: Callable[[int], list[str]]
    recycle: Callable[[list[str]], None]
    available: list[str] = field(default_factory=list)
    in_use: list[str] = field(default_factory=list)
    high_water: int = 0

    def take(self, count: int) -> list[str]:
        if len(self.available) < count:
            self.available.extend(self.refill(count - len(self.available)))
        if len(self.available) < count:
            raise PoolExhausted(f"needed {count} fresh instances, have {len(self.available)}")
        chosen, self.available = self.available[:count], self.available[count:]
        self.in_use.extend(chosen)
        self.high_water = max(self.high_water, len(self.available) + len(self.in_use))
        return chosen

    def give_back(self) -> None:
        if self.in_use:
            self.recycle(self.in_use)
            self.available.extend(self.in_use)
            self.in_use = []


@dataclass
class AttachOnly(Workload):
    """AttachInstanceRamRole of ``batch`` fresh instances per call (batch vs single attach cost)."""

    signer: V1Signer | None = None
    role: str = ""
    pool: InstancePool | None = None
    batch: int = 1

    def __post_init__(self) -> None:
        self.rate_hint = 1000.0 / self.batch

    def lanes(self, lanes: int, requests: int) -> list[Lane]:
        assert self.signer is not None and self.pool is not None
        per_lane = self.lines_per_lane(lanes, requests)
        ids = self.pool.take(per_lane * lanes * self.batch)
        timestamp = utc_timestamp()
        result = []
        for k in range(lanes):
            lane = Lane()
            for j in range(per_lane):
                start = (k * per_lane + j) * self.batch
                params = {
                    "Action": "AttachInstanceRamRole",
                    "RegionId": REGION,
                    "RamRoleName": self.role,
                    "InstanceIds": instance_ids_param(ids[start : start + self.batch]),
                }
                lane.lines.append(ecs_target(self.signer, params, timestamp))
            result.append(lane)
        return result

    def after_run(self) -> None:
        assert self.pool is not None
        self.pool.give_back()


def describe_regions(signer: V1Signer) -> SignedCalls:
    return SignedCalls("DescribeRegions", signer=signer, params=lambda n: {"Action": "DescribeRegions"})


def describe_by_instance(signer: V1Signer, instance_ids: Sequence[str]) -> SignedCalls:
    def params(n: int) -> dict[str, str]:
        return {
            "Action": "DescribeInstanceRamRole",
            "RegionId": REGION,
            "InstanceIds": instance_ids_param([instance_ids[n % len(instance_ids)]]),
        }

    return SignedCalls("DescribeInstanceRamRole(InstanceIds)", signer=signer, params=params)


def describe_by_role(signer: V1Signer, role: str) -> SignedCalls:
    def params(n: int) -> dict[str, str]:
        return {"Action": "DescribeInstanceRamRole", "RegionId": REGION, "RamRoleName": role, "PageSize": "10"}

    return SignedCalls("DescribeInstanceRamRole(RamRoleName)", signer=signer, params=params)


def metadata_credentials(role: str, instance_ids: Sequence[str]) -> RepeatablePool:
    """GET .../security-credentials/<role> as each instance, the way a client behind the HTTP proxy
    setting sends it: absolute-form target, ``Host: 100.100.100.200``, the instance as proxy user.
    Reads only, and the same answer for the same instance within the hour, so lines may repeat."""
    lines = []
    for instance in instance_ids:
        user = base64.b64encode(f"{instance}:".encode()).decode()
        lines.append(
            f"http://{METADATA_HOST}/latest/meta-data/ram/security-credentials/{role}"
            f"\tHost: {METADATA_HOST}\tProxy-Authorization: Basic {user}"
        )
    return RepeatablePool("imds_credentials", wrap=True, pool=lines)


# --- moto (EC2 Query API, SigV4 headers) ------------------------------------------------------


MOTO_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
MOTO_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EC2_VERSION = "2016-11-15"


def moto_line(host: str, params: Mapping[str, str], nonces: NonceSource | None = None) -> str:
    """A GET line with SigV4 ``X-Amz-Date`` / ``Authorization`` headers over its own query."""
    query = canonical_query({**params, "Version": EC2_VERSION})
    headers = sigv4_headers(
        access_key_id=MOTO_ACCESS_KEY_ID, secret=MOTO_SECRET, host=host, region="us-east-1", service="ec2", query=query
    )
    return f"/?{query}\t" + "\t".join(f"{name}: {value}" for name, value in headers.items())


@dataclass
class MotoCycles(Workload):
    """AssociateIamInstanceProfile(i), then DisassociateIamInstanceProfile of the AssociationId it returned.

    The AssociationId is random, so the Disassociate is a template the generator completes from
    the Associate answer; its SigV4 signature covers a placeholder (moto checks no signature).
    """

    host: str = ""
    profile: str = ""
    instance_ids: Sequence[str] = ()
    cursors: dict[int, int] = field(default_factory=dict)
    cleanup: Callable[[], None] | None = None  # as AttachDetachCycles.cleanup

    def after_run(self) -> None:
        if self.cleanup is not None:
            self.cleanup()

    def lanes(self, lanes: int, requests: int) -> list[Lane]:
        per_lane = self.lines_per_lane(lanes, requests)
        # "{}" would be percent-encoded in the query: sign a plain placeholder, then mark the spot.
        line = moto_line(self.host, {"Action": "DisassociateIamInstanceProfile", "AssociationId": "ASSOCIATIONID"})
        self.template = line.replace("ASSOCIATIONID", "{}")
        result = []
        for k in range(lanes):
            owned = self.instance_ids[k::lanes]
            lane = Lane()
            for _ in range(per_lane):
                position = self.cursors.get(k, 0)
                self.cursors[k] = position + 1
                instance = owned[position % len(owned)]
                params = {
                    "Action": "AssociateIamInstanceProfile",
                    "InstanceId": instance,
                    "IamInstanceProfile.Name": self.profile,
                }
                lane.lines.append(moto_line(self.host, params))
                lane.keys.append(instance)
            result.append(lane)
        return result


@dataclass
class MotoDescribe(Workload):
    """DescribeIamInstanceProfileAssociations filtered by one instance-id."""

    host: str = ""
    instance_ids: Sequence[str] = ()
    counter: int = 0

    def lanes(self, lanes: int, requests: int) -> list[Lane]:
        per_lane = self.lines_per_lane(lanes, requests)
        result = []
        for _ in range(lanes):
            lines = []
            for _ in range(per_lane):
                instance = self.instance_ids[self.counter % len(self.instance_ids)]
                self.counter += 1
                params = {
                    "Action": "DescribeIamInstanceProfileAssociations",
                    "Filter.1.Name": "instance-id",
                    "Filter.1.Value.1": instance,
                }
                lines.append(moto_line(self.host, params))
            result.append(Lane(lines))
        return result


def moto_cycles(
    host: str, profile: str, instance_ids: Sequence[str], cleanup: Callable[[], None] | None = None
) -> MotoCycles:
    return MotoCycles(
        "associate+disassociate",
        cleanup=cleanup,
        follow=MOTO_FOLLOW,
        done=MOTO_DONE,
        requests_per_line=2,
        host=host,
        profile=profile,
        instance_ids=instance_ids,
    )
