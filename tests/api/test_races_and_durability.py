"""Invariants across processes: one role per instance under racing attaches from several client
processes against several server workers; bindings survive a restart."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable

import pytest
from alibabacloud_ram20150501.models import GetRoleRequest

from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.ecs import attach, bindings, bound_to, create_role, run_instances
from tests.support.racers import attach_detach_cycles, attach_everything, run_with_token, tag_instance

RACERS = 4
INSTANCES = 60


@pytest.mark.parametrize("topology", ["one-server-3-workers", "two-servers"])
def test_racing_attaches_leave_exactly_one_role_per_instance(
    server_factory: Callable[..., ServerProcess], topology: str
) -> None:
    server = server_factory(workers=3 if topology == "one-server-3-workers" else 1)
    endpoints = [server.endpoint]
    if topology == "two-servers":  # two processes on two ports over one database, as one service
        endpoints.append(server_factory(server.database_url).endpoint)
    key = create_account(server.database_url)
    sdk = Sdk(server.endpoint, key, server.database_url)
    role_names = [f"racer-{n}-{uuid.uuid4().hex[:6]}" for n in range(RACERS)]
    for name in role_names:
        create_role(sdk, name)
    ids = run_instances(sdk, INSTANCES)

    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(RACERS)
    with context.Pool(RACERS) as pool:
        pending = [
            pool.apply_async(
                attach_everything,
                (endpoints[n % len(endpoints)], key.access_key_id, key.secret, role, ids, 1 + n * 3, n, barrier),
            )
            for n, role in enumerate(role_names)
        ]
        outcomes = dict(zip(role_names, (p.get(timeout=300) for p in pending), strict=True))

    bound = bindings(sdk, ids)
    assert set(bound) == set(ids), "every instance holds a role"
    for instance_id in ids:
        winners = [role for role, outcome in outcomes.items() if outcome[instance_id]]
        assert winners == [bound[instance_id]], (instance_id, winners, bound[instance_id])
    assert len(set(bound.values())) > 1, "the race was real: more than one racer won some instance"


def test_racing_client_tokens_create_instances_once(server_factory: Callable[..., ServerProcess]) -> None:
    first = server_factory(workers=2)
    second = server_factory(first.database_url)
    key = create_account(first.database_url)
    token = uuid.uuid4().hex
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(RACERS)
    with context.Pool(RACERS) as pool:
        pending = [
            pool.apply_async(
                run_with_token, ((first, second)[n % 2].endpoint, key.access_key_id, key.secret, token, barrier)
            )
            for n in range(RACERS)
        ]
        results = [p.get(timeout=120) for p in pending]
    assert all(ids == results[0] for ids in results), results
    sdk = Sdk(first.endpoint, key, first.database_url)
    listed = sdk.raw().v1("DescribeInstances", {"RegionId": "cn-hangzhou"}).json
    assert listed["TotalCount"] == 3


def test_racing_tags_respect_the_limit_of_twenty(server_factory: Callable[..., ServerProcess]) -> None:
    # Four racers add six tags each to one instance: three fit (18), the fourth would make 24.
    first = server_factory(workers=2)
    second = server_factory(first.database_url)
    key = create_account(first.database_url)
    sdk = Sdk(first.endpoint, key, first.database_url)
    (instance_id,) = run_instances(sdk, 1)
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(RACERS)
    with context.Pool(RACERS) as pool:
        pending = [
            pool.apply_async(
                tag_instance,
                ((first, second)[n % 2].endpoint, key.access_key_id, key.secret, instance_id, f"r{n}", barrier),
            )
            for n in range(RACERS)
        ]
        codes = [p.get(timeout=120) for p in pending]
    assert sorted(codes, key=str) == [None, None, None, "OperationDenied.QuotaExceed"], codes
    listed = sdk.raw().v1(
        "ListTagResources", {"RegionId": "cn-hangzhou", "ResourceType": "instance", "ResourceId.1": instance_id}
    )
    assert len(listed.json["TagResources"]["TagResource"]) == 18


def test_racing_attach_and_detach_lose_no_update(server_factory: Callable[..., ServerProcess]) -> None:
    first = server_factory(workers=2)
    second = server_factory(first.database_url)
    key = create_account(first.database_url)
    sdk = Sdk(first.endpoint, key, first.database_url)
    role_names = [f"cycler-{n}-{uuid.uuid4().hex[:6]}" for n in range(RACERS)]
    for name in role_names:
        create_role(sdk, name)
    ids = run_instances(sdk, 4)  # few instances, many rounds: constant contention
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(RACERS)
    with context.Pool(RACERS) as pool:
        pending = [
            pool.apply_async(
                attach_detach_cycles,
                ((first, second)[n % 2].endpoint, key.access_key_id, key.secret, role, ids, 40, n, barrier),
            )
            for n, role in enumerate(role_names)
        ]
        counts = [p.get(timeout=300) for p in pending]
    assert sum(c["lost"] for c in counts) == 0, counts
    assert sum(c["attached"] for c in counts) > 0 and sum(c["busy"] for c in counts) > 0, counts
    assert bindings(sdk, ids) == {}  # every won attach was undone by its own detach


def test_bindings_survive_a_restart(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(workers=2)
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    role = f"durable-{uuid.uuid4().hex[:6]}"
    create_role(sdk, role)
    ids = run_instances(sdk, 5)
    attach(sdk, role, ids, policy='{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}')
    sdk.raw().v1("DeleteInstance", {"InstanceId": ids[0], "Force": "true"})
    assert bound_to(sdk, role) == sorted(ids[1:])

    server.restart()
    sdk = Sdk(server.endpoint, sdk.key, server.database_url)
    assert bound_to(sdk, role) == sorted(ids[1:])
    assert bindings(sdk, ids[1:]) == dict.fromkeys(ids[1:], role)
    assert sdk.tea_ram().get_role(GetRoleRequest(role_name=role)).body.role.role_name == role
