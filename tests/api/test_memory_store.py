"""An in-memory store (``--database sqlite://``): one worker, gone when the server stops."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecsram.config import DEFAULT_ACCOUNT_ID, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET
from ecsram.store.accounts import AccessKey
from ecsram.testing.server import ServerFailed, ServerProcess
from tests.conftest import Sdk
from tests.support.admin import admin, ecsram, state
from tests.support.ecs import attach, bindings, create_role, run_instances

EXAMPLE = Path(__file__).parents[2] / "examples" / "seed.yaml"
MEMORY_URLS = ["sqlite://", "sqlite:///:memory:"]


def _root(server: ServerProcess) -> Sdk:
    key = AccessKey(DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET, DEFAULT_ACCOUNT_ID, None, "Active")
    return Sdk(server.endpoint, key, server.database_url)


@pytest.mark.parametrize("url", MEMORY_URLS)
def test_a_memory_store_serves_and_forgets(url: str) -> None:
    with ServerProcess(url) as server:
        root = _root(server)
        create_role(root, "mem-role")
        (instance,) = run_instances(root)
        assert attach(root, "mem-role", [instance])["FailCount"] == 0
        assert bindings(root, [instance]) == {instance: "mem-role"}
        server.restart()
        # A new process, a new empty store (with the default account again).
        assert state(server)["accounts"][0]["roles"] == []
        assert root.raw().v1("DescribeRegions", {}).status == 200


def test_a_memory_store_takes_a_seed_and_resets_to_it() -> None:
    with ServerProcess("sqlite://", extra_args=("--seed", str(EXAMPLE))) as server:
        seeded = state(server)
        assert {a["accountId"] for a in seeded["accounts"]} == {DEFAULT_ACCOUNT_ID, "1000000000000002"}
        root = _root(server)
        create_role(root, "extra-role")
        status, _body = admin(server, "POST", "/_ecsram/reset")
        assert status == 200
        roles = [r["roleName"] for r in state(server, DEFAULT_ACCOUNT_ID)["accounts"][0]["roles"]]
        assert roles == ["app-role"]


@pytest.mark.parametrize("url", MEMORY_URLS)
def test_several_workers_are_refused(url: str) -> None:
    with pytest.raises(ServerFailed) as failed:
        ServerProcess(url, workers=2).start()
    assert "in-memory database" in str(failed.value) and "--workers 1" in str(failed.value)


@pytest.mark.parametrize("command", [["reset"], ["state"], ["seed", str(EXAMPLE)]])
def test_store_commands_explain_that_a_memory_store_is_inside_its_server(command: list[str]) -> None:
    result = ecsram(*command, "--database", "sqlite://")
    assert result.returncode == 2 and "exists only inside the server" in result.stderr, result.stderr
