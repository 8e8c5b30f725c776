"""Worker-process bodies for race tests (top-level so that spawned processes can import them)."""

from __future__ import annotations

import http.client
import json
import random
import time
from multiprocessing.synchronize import Barrier, Event
from typing import Any

from tests.support.raw import RawClient


def attach_everything(
    endpoint: str,
    access_key_id: str,
    secret: str,
    role: str,
    instance_ids: list[str],
    batch: int,
    seed: int,
    barrier: Barrier,
) -> dict[str, bool]:
    """Attach ``role`` to every instance, in batches, in a shuffled order; report each item's success."""
    client = RawClient(endpoint, access_key_id, secret)
    order = list(instance_ids)
    random.Random(seed).shuffle(order)
    outcome: dict[str, bool] = {}
    barrier.wait()
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        response = client.v1(
            "AttachInstanceRamRole", {"RegionId": "cn-hangzhou", "RamRoleName": role, "InstanceIds": json.dumps(chunk)}
        )
        if response.status != 200:
            raise AssertionError(f"attach failed: {response.status} {response.body!r}")
        for item in response.json["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"]:
            outcome[item["InstanceId"]] = item["Success"]
    return outcome


def run_with_token(endpoint: str, access_key_id: str, secret: str, token: str, barrier: Barrier) -> list[str]:
    """RunInstances with a ClientToken; returns the instance IDs it was given."""
    client = RawClient(endpoint, access_key_id, secret)
    barrier.wait()
    response = client.v1(
        "RunInstances",
        {
            "RegionId": "cn-hangzhou",
            "ImageId": "img",
            "InstanceType": "ecs.g7.large",
            "VSwitchId": "vsw-1",
            "Amount": "3",
            "ClientToken": token,
        },
    )
    if response.status != 200:
        raise AssertionError(f"run failed: {response.status} {response.body!r}")
    ids: list[str] = response.json["InstanceIdSets"]["InstanceIdSet"]
    return ids


def attach_detach_cycles(
    endpoint: str,
    access_key_id: str,
    secret: str,
    role: str,
    instance_ids: list[str],
    rounds: int,
    seed: int,
    barrier: Barrier,
) -> dict[str, int]:
    """Repeatedly attach ``role`` to an instance and, when that succeeded, detach it again naming
    the role. Only this racer uses this role, so a detach after a won attach must succeed: a
    failure would mean another racer overwrote the binding (a lost update)."""
    client = RawClient(endpoint, access_key_id, secret)
    rng = random.Random(seed)
    counts = {"attached": 0, "lost": 0, "busy": 0}
    barrier.wait()
    for _ in range(rounds):
        instance_id = rng.choice(instance_ids)
        ids = json.dumps([instance_id])
        attached = client.v1(
            "AttachInstanceRamRole", {"RegionId": "cn-hangzhou", "RamRoleName": role, "InstanceIds": ids}
        )
        if attached.status != 200:
            raise AssertionError(f"attach failed: {attached.status} {attached.body!r}")
        if not attached.json["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"][0]["Success"]:
            counts["busy"] += 1
            continue
        counts["attached"] += 1
        detached = client.v1(
            "DetachInstanceRamRole", {"RegionId": "cn-hangzhou", "RamRoleName": role, "InstanceIds": ids}
        )
        item = detached.json["DetachInstanceRamRoleResults"]["DetachInstanceRamRoleResult"][0]
        if not item["Success"]:
            counts["lost"] += 1
    return counts


def tag_instance(
    endpoint: str, access_key_id: str, secret: str, instance_id: str, prefix: str, barrier: Barrier
) -> str | None:
    """Add six tags of its own to one instance; returns the error code, or None on success."""
    client = RawClient(endpoint, access_key_id, secret)
    params = {"RegionId": "cn-hangzhou", "ResourceType": "instance", "ResourceId.1": instance_id}
    for n in range(6):
        params[f"Tag.{n + 1}.Key"] = f"{prefix}-{n}"
        params[f"Tag.{n + 1}.Value"] = "v"
    barrier.wait()
    response = client.v1("TagResources", params)
    if response.status == 200:
        return None
    code: str | None = response.code
    return code


def crash_load(
    endpoint: str,
    access_key_id: str,
    secret: str,
    role: str,
    own_ids: list[str],
    shared_ids: list[str],
    seed: int,
    stop: Event,
) -> dict[str, list[Any]]:
    """Writes against a server that is killed and restarted under it, until ``stop`` is set.

    Each call's outcome is logged as acknowledged (a 200 was read), refused (an error answer) or
    unknown (no answer: the server died). RunInstances carries a ClientToken; attach and detach
    act on this racer's own instances (one writer each, so the last acknowledged change is the
    state) and on instances shared by every racer (contended)."""
    from tests.support.fuzzing import FuzzClient

    client = FuzzClient(endpoint, access_key_id, secret, timeout=20, retry_idle=False)
    rng = random.Random(seed)
    log: dict[str, list[Any]] = {"runs": [], "changes": [], "shared": []}
    while not stop.is_set():
        kind = rng.random()
        entries: list[Any] = []
        try:
            if kind < 0.25:
                token = f"crash-{seed}-{len(log['runs'])}-{rng.getrandbits(32):08x}"
                amount = rng.choice((1, 2))
                entry = [token, amount, "unknown", []]
                entries = log["runs"]
                entries.append(entry)
                response = client.v1("RunInstances", run_params(token, amount))
                entry[2] = "acknowledged" if response.status == 200 else f"refused {response.status} {response.code}"
                if response.status == 200:
                    entry[3] = response.json["InstanceIdSets"]["InstanceIdSet"]
            else:
                shared = kind > 0.8
                instance = rng.choice(shared_ids if shared else own_ids)
                action = rng.choice(("AttachInstanceRamRole", "DetachInstanceRamRole"))
                entry = [action, instance, "unknown"]
                entries = log["shared" if shared else "changes"]
                entries.append(entry)
                params = {"RegionId": "cn-hangzhou", "RamRoleName": role, "InstanceIds": json.dumps([instance])}
                response = client.v1(action, params)
                if response.status != 200:
                    entry[2] = f"refused {response.status} {response.code}"
                else:
                    results = response.json[f"{action[:6]}InstanceRamRoleResults"][f"{action[:6]}InstanceRamRoleResult"]
                    entry[2] = "acknowledged" if results[0]["Success"] else f"declined {results[0]['Code']}"
        except ConnectionRefusedError:
            entries.pop()  # the server is down: nothing was sent
            time.sleep(0.05)
        except (OSError, http.client.HTTPException):
            pass  # the server died with the call in flight: its outcome stays unknown
    client.close()
    return log


def run_params(token: str, amount: int) -> dict[str, str]:
    return {
        "RegionId": "cn-hangzhou",
        "ImageId": "ubuntu_22_04_x64_20G_alibase_20240101.vhd",
        "InstanceType": "ecs.g7.large",
        "VSwitchId": "vsw-crash001",
        "Amount": str(amount),
        "ClientToken": token,
    }
