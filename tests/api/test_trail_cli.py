"""``ecsram trail``: the audit trail read from the store by the command line, and the server's
trail settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models

from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.admin import ecsram
from tests.support.ecs import run_instances


def describe_regions(sdk: Sdk) -> str:
    request_id: str = sdk.tea_ecs().describe_regions(ecs_models.DescribeRegionsRequest()).body.request_id
    return request_id


def test_trail_prints_an_accounts_events(sdk: Sdk, server: ServerProcess) -> None:
    read_id = describe_regions(sdk)
    (instance,) = run_instances(sdk, 1)
    other_id = describe_regions(sdk.other_account())
    shown = ecsram("trail", "--account", sdk.account_id, "--format", "json", "--database", server.database_url)
    assert shown.returncode == 0, shown.stderr
    documents = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [d["eventName"] for d in documents] == ["DescribeRegions", "RunInstances"]
    assert documents[0]["requestId"] == read_id and other_id not in shown.stdout
    only = ecsram("trail", "--account", sdk.account_id, "--action", "Run*", "--database", server.database_url)
    (line,) = only.stdout.splitlines()
    fields = line.split(" ")
    assert fields[1:6] == [sdk.account_id, f"acs:ram::{sdk.account_id}:root", "RunInstances", "200", "-"]
    assert instance not in line  # RunInstances names no existing resource
    everyone = ecsram("trail", "--action", "DescribeRegions", "--database", server.database_url)
    assert read_id in everyone.stdout and other_id in everyone.stdout
    future = ecsram("trail", "--since", "2099-01-01T00:00:00Z", "--database", server.database_url)
    assert (future.returncode, future.stdout) == (0, "")


def test_trail_refuses_bad_options(server: ServerProcess) -> None:
    for args, message in (
        (["--since", "last tuesday"], "neither a duration"),
        (["--since", "2026-01-01T00:00:00"], "no time zone"),
        (["--account", "12"], "not an account ID"),
        (["--format", "yaml"], "'yaml' is not one of"),
    ):
        result = ecsram("trail", *args, "--database", server.database_url)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


def test_trail_follow_prints_new_events(sdk: Sdk, server: ServerProcess) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "ecsram", "trail", "--follow", "--account", sdk.account_id, "--since", "1m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ECSRAM_DATABASE_URL": server.database_url},
    )
    try:
        time.sleep(1.0)  # it has started polling (the event would be found either way)
        request_id = describe_regions(sdk)
        assert follower.stdout is not None
        line = follower.stdout.readline()
        assert request_id in line and "DescribeRegions" in line
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_the_trail_is_on_unless_turned_off(server_factory: Callable[..., ServerProcess]) -> None:
    quiet = server_factory(extra_args=("--no-trail",))
    sdk = Sdk(quiet.endpoint, *_root(quiet))
    describe_regions(sdk)
    shown = ecsram("trail", "--database", quiet.database_url)
    assert (shown.returncode, shown.stdout) == (0, ""), shown.stderr
    loud = server_factory(extra_args=("--trail-retention", "1d,100"))  # on by default
    sdk = Sdk(loud.endpoint, *_root(loud))
    request_id = describe_regions(sdk)
    assert request_id in ecsram("trail", "--database", loud.database_url).stdout


def test_serve_refuses_a_bad_retention() -> None:
    result = ecsram("serve", "--trail-retention", "forever")
    assert result.returncode == 2 and "trail retention 'forever'" in result.stderr


def _root(process: ServerProcess) -> tuple[Any, str]:
    from ecsram.testing.accounts import create_account

    return create_account(process.database_url), process.database_url
