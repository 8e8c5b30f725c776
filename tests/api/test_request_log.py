"""The request log: one line per API call, in text or JSON, to a file or standard error."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.admin import admin
from tests.support.raw import RAM


def _request_line(line: str) -> bool:
    return " INFO " not in line and '"logger"' not in line  # not the server's own messages


def _lines(path: Path, count: int) -> list[str]:
    """The log's request lines once there are at least ``count`` (they are written after the
    response is sent, so may trail it slightly)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in (path.read_text().splitlines() if path.exists() else []) if _request_line(line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def _calls(server: ServerProcess) -> tuple[Sdk, list[Any]]:
    """Three calls: a success by root, an error by a RAM user, a failed signature."""
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    ok = sdk.raw().v1("DescribeRegions", {})
    user = sdk.new_user()  # three calls (CreateUser, CreateAccessKey): no policies attached
    denied = user.raw().v1("ListRoles", {}, version=RAM)
    forged = sdk.raw().v1("DescribeRegions", {}, secret="NotTheSecretNotTheSecret")
    return sdk, [ok, denied, forged, user]


@pytest.mark.parametrize("workers", [1, 2])
def test_text_lines_name_account_principal_action_status_code(
    server_factory: Callable[..., ServerProcess], tmp_path: Path, workers: int
) -> None:
    log = tmp_path / "requests.log"
    server = server_factory(workers=workers, extra_args=("--log-level", "info", "--log-file", str(log)))
    sdk, (ok, denied, forged, user) = _calls(server)
    lines = _lines(log, 5)
    assert len(lines) == 5, lines
    by_id = {line.split(" ")[1]: line.split(" ") for line in lines}
    first = by_id[ok.json["RequestId"]]
    assert first[2:7] == [sdk.account_id, f"acs:ram::{sdk.account_id}:root", "DescribeRegions", "200", "-"]
    assert float(first[7]) >= 0 and first[0].endswith("Z")
    second = by_id[denied.json["RequestId"]]
    assert second[2:7] == [
        sdk.account_id,
        f"acs:ram::{sdk.account_id}:user/{user.user_name}",
        "ListRoles",
        str(denied.status),
        denied.code,
    ]
    assert denied.status == 403
    third = by_id[forged.json["RequestId"]]
    assert third[2:7] == ["-", "-", "DescribeRegions", "400", "SignatureDoesNotMatch"]


def test_json_lines_and_admin_calls(server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    env = {"ECSRAM_LOG_LEVEL": "debug", "ECSRAM_LOG_FORMAT": "json", "ECSRAM_LOG_FILE": str(log)}
    server = server_factory(env=env)
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    ok = sdk.raw().v1("DescribeRegions", {})
    admin(server, "POST", "/_ecsram/reset?account=1999999999999999")
    requests = [json.loads(line) for line in _lines(log, 2)]
    api = next(r for r in requests if r["requestId"] == ok.json["RequestId"])
    assert api["account"] == sdk.account_id and api["principal"] == f"acs:ram::{sdk.account_id}:root"
    assert (api["action"], api["status"], api["errorCode"]) == ("DescribeRegions", 200, None)
    assert isinstance(api["latencyMs"], float)
    reset = next(r for r in requests if r["action"] == "POST /_ecsram/reset")
    assert (reset["status"], reset["errorCode"]) == (404, "EntityNotExist.Account")
    # Every line of the file is JSON, the server's own messages too.
    assert all(isinstance(json.loads(line), dict) for line in log.read_text().splitlines())


def test_unreadable_input_cannot_forge_a_text_field(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    log = tmp_path / "requests.log"
    server = server_factory(extra_args=("--log-level", "info", "--log-file", str(log)))
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    sdk.raw().v1("Describe Regions\nfake 200", {})
    (line,) = _lines(log, 1)
    assert '"Describe Regions\\nfake 200"' in line


def test_no_request_lines_at_the_default_level(server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    server = server_factory(extra_args=("--log-file", str(log)))
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    assert sdk.raw().v1("DescribeRegions", {}).status == 200
    server.stop()
    assert not log.exists() or log.read_text() == ""


def test_the_log_goes_to_standard_error_by_default(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--log-level", "info"))
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    request_id = sdk.raw().v1("DescribeRegions", {}).json["RequestId"]
    server.stop()
    assert any(request_id in line and "DescribeRegions 200" in line for line in server.output), server.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--log-level", "loud"), "'loud' is not one of"),
        (("--log-format", "xml"), "'xml' is not one of"),
    ],
)
def test_bad_log_options_are_refused(database_factory: Callable[[], str], args: tuple[str, ...], fragment: str) -> None:
    from tests.support.admin import ecsram

    result = ecsram("serve", "--port", "0", "--database", database_factory(), *args)
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
