"""The crash suite: ``kill -9`` of a ``--workers 2`` server (every process of it, at once) while
client processes attach, detach and run instances; a restart on the same store; then the
invariants. It runs on the backend of the test run (``ECSRAM_TEST_BACKEND``: SQLite, and
PostgreSQL in the second pass of ``scripts/test``).

Invariants after the last restart:
- every acknowledged RunInstances' instances exist, and a retry with its ClientToken answers the
  identical instance IDs; a retry of one whose answer was lost creates its instances at most once;
- the instance count is exactly what the ClientTokens account for (nothing lost, nothing doubled);
- each racer's own instances hold the binding its last acknowledged change left (or one its
  unanswered calls after that may have made), and no instance holds two roles;
- every listing's TotalCount matches its items.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from ecsram.testing.accounts import create_account
from ecsram.testing.plugin import ECS_TRUST_POLICY
from ecsram.testing.server import ServerProcess
from tests.reliability.sizing import report, sized
from tests.support.databases import backend
from tests.support.fuzzing import FuzzClient
from tests.support.racers import crash_load, run_params
from tests.support.raw import RAM

RACERS = 4
OWN_INSTANCES = 6  # per racer
SHARED_INSTANCES = 4
KILLS = sized(2, 25)
LOAD_SECONDS = (1.0, 3.0)  # load between two kills: a random time in this range


def _all_instances(client: FuzzClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.ok("DescribeInstances", {"RegionId": "cn-hangzhou", "PageSize": "100", "PageNumber": str(page)})
        found.extend(body["Instances"]["Instance"])
        if page * 100 >= body["TotalCount"]:
            assert len(found) == body["TotalCount"], "DescribeInstances' TotalCount differs from its items"
            return found
        page += 1


def _bindings(client: FuzzClient, ids: list[str]) -> list[tuple[str, str]]:
    """(instance, role) for every binding DescribeInstanceRamRole reports (duplicates kept)."""
    pairs: list[tuple[str, str]] = []
    for start in range(0, len(ids), 50):
        chunk = ids[start : start + 50]
        body = client.ok(
            "DescribeInstanceRamRole", {"RegionId": "cn-hangzhou", "InstanceIds": json.dumps(chunk), "PageSize": "50"}
        )
        items = body["InstanceRamRoleSets"]["InstanceRamRoleSet"]
        assert body["TotalCount"] == len(items)
        pairs.extend((item["InstanceId"], item["RamRoleName"]) for item in items)
    return pairs


def _possible_states(changes: list[list[Any]], role: str) -> dict[str, set[str | None]]:
    """Per own instance, the bindings its log allows: the state after the last acknowledged
    change, or after any unanswered call that followed it."""
    possible: dict[str, set[str | None]] = {}
    for action, instance, outcome in changes:
        target = role if action == "AttachInstanceRamRole" else None
        if outcome == "acknowledged":
            possible[instance] = {target}
        elif outcome == "unknown":
            possible.setdefault(instance, {None}).add(target)
        # refused or declined: the call changed nothing
    return possible


def test_kill_9_under_load_loses_no_acknowledged_write(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(workers=2)
    key = create_account(server.database_url)
    admin = FuzzClient(server.endpoint, key.access_key_id, key.secret)
    roles = [f"crash-{n}-{uuid.uuid4().hex[:6]}" for n in range(RACERS)]
    for role in roles:
        admin.ok("CreateRole", {"RoleName": role, "AssumeRolePolicyDocument": ECS_TRUST_POLICY}, version=RAM)
    seeded = admin.ok("RunInstances", run_params(uuid.uuid4().hex, RACERS * OWN_INSTANCES + SHARED_INSTANCES))
    ids: list[str] = seeded["InstanceIdSets"]["InstanceIdSet"]
    shared = ids[:SHARED_INSTANCES]
    own = [
        ids[SHARED_INSTANCES + n * OWN_INSTANCES : SHARED_INSTANCES + (n + 1) * OWN_INSTANCES] for n in range(RACERS)
    ]
    admin.close()

    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    stop = manager.Event()
    rng = random.Random()
    started = time.monotonic()
    with context.Pool(RACERS) as pool:
        pending = [
            pool.apply_async(
                crash_load,
                (
                    server.endpoint,
                    key.access_key_id,
                    key.secret,
                    roles[n],
                    own[n],
                    shared,
                    n * 7919 + rng.randrange(1000),
                    stop,
                ),
            )
            for n in range(RACERS)
        ]
        time.sleep(1.0)  # the racers are up
        for _ in range(KILLS):
            time.sleep(rng.uniform(*LOAD_SECONDS))
            server.requested_port = server.port
            server.stop(signal.SIGKILL)
            server.start()
        time.sleep(rng.uniform(*LOAD_SECONDS))
        stop.set()
        logs = [p.get(timeout=120) for p in pending]
    load_seconds = time.monotonic() - started

    client = FuzzClient(server.endpoint, key.access_key_id, key.secret)
    runs = [run for log in logs for run in log["runs"]]
    acknowledged = [run for run in runs if run[2] == "acknowledged"]
    unknown = [run for run in runs if run[2] == "unknown"]
    assert acknowledged, "no RunInstances was acknowledged: the load did not run"
    instances = {item["InstanceId"] for item in _all_instances(client)}

    # Acknowledged RunInstances: present, and their retries answer the same IDs.
    for token, amount, _outcome, created in acknowledged:
        assert set(created) <= instances, f"acknowledged RunInstances {token} lost instances"
        again = client.ok("RunInstances", run_params(token, amount))["InstanceIdSets"]["InstanceIdSet"]
        assert again == created, f"ClientToken {token}: a retry answered {again}, first {created}"
    # Unanswered ones: a retry gives their instances (made then or now), once.
    for token, amount, _outcome, _created in unknown:
        again = client.ok("RunInstances", run_params(token, amount))["InstanceIdSets"]["InstanceIdSet"]
        assert len(again) == amount
        assert client.ok("RunInstances", run_params(token, amount))["InstanceIdSets"]["InstanceIdSet"] == again
    final = _all_instances(client)
    expected = len(ids) + sum(amount for _token, amount, outcome, _ids in runs if not outcome.startswith("refused"))
    assert len(final) == expected, f"{len(final)} instances, the ClientTokens account for {expected}"
    refused = Counter(run[2] for run in runs if run[2].startswith("refused"))
    assert not refused, f"RunInstances refused: {refused}"

    # Bindings: no instance with two roles; each racer's own instances as its log allows.
    pairs = _bindings(client, ids)
    doubled = [instance for instance, count in Counter(i for i, _ in pairs).items() if count > 1]
    assert not doubled, f"instances with two roles: {doubled}"
    bound = dict(pairs)
    changes = 0
    for n, log in enumerate(logs):
        changes += len(log["changes"]) + len(log["shared"])
        for instance, allowed in _possible_states(log["changes"], roles[n]).items():
            assert bound.get(instance) in allowed, (instance, bound.get(instance), allowed)
        assert all(outcome != "acknowledged" or action for action, _i, outcome in log["shared"])
    for instance in shared:
        if instance in bound:  # held by a racer that attached it (acknowledged or unanswered)
            holder = roles.index(bound[instance])
            attempts = [e for e in logs[holder]["shared"] if e[0] == "AttachInstanceRamRole" and e[1] == instance]
            assert any(outcome in ("acknowledged", "unknown") for _a, _i, outcome in attempts), instance
    for role in roles:
        body = client.ok("DescribeInstanceRamRole", {"RegionId": "cn-hangzhou", "RamRoleName": role, "PageSize": "50"})
        listed = body["InstanceRamRoleSets"]["InstanceRamRoleSet"]
        assert body["TotalCount"] == len(listed) == sum(1 for r in bound.values() if r == role)
    client.close()

    acknowledged_changes = sum(1 for log in logs for e in log["changes"] + log["shared"] if e[2] == "acknowledged")
    report(
        "crash",
        backend=backend(),
        kills=KILLS,
        load_seconds=round(load_seconds, 1),
        run_instances=len(runs),
        run_instances_acknowledged=len(acknowledged),
        run_instances_unanswered=len(unknown),
        attach_detach_calls=changes,
        attach_detach_acknowledged=acknowledged_changes,
        instances_checked=len(final),
    )
