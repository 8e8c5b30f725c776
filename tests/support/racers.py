"""Worker-process bodies for race tests (top-level so that spawned processes can import them)."""

from __future__ import annotations

import json
import random
from multiprocessing.synchronize import Barrier

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
