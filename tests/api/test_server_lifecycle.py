"""The server process: start-up, credentials, refusal to start unsafely, shutdown, durability."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ecsram.config import DEFAULT_ACCOUNT_ID, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET
from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerFailed, ServerProcess
from tests.support.raw import RawClient


def _ecsram(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecsram", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_first_start_creates_the_default_account_and_prints_its_keys(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory()
    banner = "".join(server.output)
    assert f"http://127.0.0.1:{server.port}" in banner
    assert DEFAULT_ROOT_ACCESS_KEY_ID in banner and DEFAULT_ROOT_ACCESS_KEY_SECRET in banner
    assert DEFAULT_ACCOUNT_ID in banner
    client = RawClient(server.endpoint, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET)
    assert client.v1("DescribeRegions").status == 200


def test_first_start_takes_account_and_keys_from_the_environment(server_factory: Callable[..., ServerProcess]) -> None:
    env = {
        "ECSRAM_ACCOUNT_ID": "1999999999999999",
        "ECSRAM_ROOT_ACCESS_KEY_ID": "LTAIenvironmentKey0001",
        "ECSRAM_ROOT_ACCESS_KEY_SECRET": "EnvironmentSecret000000000001",
    }
    server = server_factory(env=env)
    assert "1999999999999999" in "".join(server.output)
    assert "EnvironmentSecret" not in "".join(server.output)  # a secret the user chose is not echoed
    ok = RawClient(server.endpoint, env["ECSRAM_ROOT_ACCESS_KEY_ID"], env["ECSRAM_ROOT_ACCESS_KEY_SECRET"])
    assert ok.v1("DescribeRegions").status == 200
    default = RawClient(server.endpoint, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET)
    assert default.v1("DescribeRegions").code == "InvalidAccessKeyId.NotFound"


def test_refuses_a_non_loopback_address_with_the_default_keys(database_factory: Callable[[], str]) -> None:
    result = _ecsram("serve", "--host", "0.0.0.0", "--port", "0", "--database", database_factory())
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert DEFAULT_ROOT_ACCESS_KEY_ID in result.stderr


def test_refuses_test_clock_beyond_loopback(database_factory: Callable[[], str]) -> None:
    env = {
        "ECSRAM_ROOT_ACCESS_KEY_ID": "LTAIprivateKey00000001",
        "ECSRAM_ROOT_ACCESS_KEY_SECRET": "PrivateSecret0000000000001",
    }
    result = _ecsram(
        "serve", "--host", "0.0.0.0", "--port", "0", "--test-clock", "--database", database_factory(), env=env
    )
    assert result.returncode != 0
    assert "--test-clock" in result.stderr


def test_non_loopback_with_private_keys_starts(server_factory: Callable[..., ServerProcess]) -> None:
    env = {
        "ECSRAM_ROOT_ACCESS_KEY_ID": "LTAIprivateKey00000001",
        "ECSRAM_ROOT_ACCESS_KEY_SECRET": "PrivateSecret0000000000001",
    }
    server = server_factory(host="0.0.0.0", env=env)
    client = RawClient(
        f"127.0.0.1:{server.port}", env["ECSRAM_ROOT_ACCESS_KEY_ID"], env["ECSRAM_ROOT_ACCESS_KEY_SECRET"]
    )
    assert client.v1("DescribeRegions").status == 200


def test_half_given_root_key_is_refused(database_factory: Callable[[], str]) -> None:
    result = _ecsram(
        "serve",
        "--port",
        "0",
        "--database",
        database_factory(),
        env={"ECSRAM_ROOT_ACCESS_KEY_ID": "LTAIonlyTheId000001"},
    )
    assert result.returncode != 0
    assert "ECSRAM_ROOT_ACCESS_KEY_SECRET" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("workers", [1, 2])
def test_clean_shutdown(server_factory: Callable[..., ServerProcess], sig: int, workers: int) -> None:
    server = server_factory(workers=workers)
    code = server.stop(sig)
    output = "".join(server.output)
    assert code == 0, output
    assert "Traceback" not in output


def test_state_survives_a_restart(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory()
    key = create_account(server.database_url)
    nonce = uuid.uuid4().hex
    client = RawClient(server.endpoint, key.access_key_id, key.secret)
    assert client.v1("DescribeRegions", nonce=nonce).status == 200
    server.restart()
    client = RawClient(server.endpoint, key.access_key_id, key.secret)
    assert client.v1("DescribeRegions").status == 200  # the account is still there
    assert client.v1("DescribeRegions", nonce=nonce).code == "SignatureNonceUsed"  # and so is the nonce


def test_account_create_command(server: ServerProcess) -> None:
    result = _ecsram("account", "create", "--database", server.database_url)
    assert result.returncode == 0, result.stderr
    fields = dict(re.findall(r"^(\w+):\s+(\S+)$", result.stdout, re.MULTILINE))
    assert re.fullmatch(r"[0-9]{16}", fields["AccountId"])
    client = RawClient(server.endpoint, fields["AccessKeyId"], fields["AccessKeySecret"])
    assert client.v1("DescribeRegions").status == 200


def test_account_create_with_chosen_identifiers(server: ServerProcess) -> None:
    account_id = "1" + uuid.uuid4().int.__str__()[:15]
    key_id = "LTAIchosen" + uuid.uuid4().hex[:12]
    args = ["account", "create", "--database", server.database_url, "--account-id", account_id]
    result = _ecsram(*args, "--access-key-id", key_id, "--access-key-secret", "ChosenSecret0000000000001")
    assert result.returncode == 0, result.stderr
    assert RawClient(server.endpoint, key_id, "ChosenSecret0000000000001").v1("DescribeRegions").status == 200
    again = _ecsram(*args)
    assert again.returncode != 0
    assert "exists already" in again.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--account-id", "123"], "not 16 digits"),
        (["--access-key-id", "LTAIonly00000000001"], "both"),
        (["--access-key-id", "STS.forged000000001", "--access-key-secret", "Secret00000000000001"], "STS"),
    ],
)
def test_account_create_rejects_bad_input(server: ServerProcess, args: list[str], fragment: str) -> None:
    result = _ecsram("account", "create", "--database", server.database_url, *args)
    assert result.returncode != 0
    assert fragment in result.stderr


def test_migrate_command(database_factory: Callable[[], str]) -> None:
    url = database_factory()
    first = _ecsram("migrate", "--database", url)
    assert first.returncode == 0, first.stderr
    assert _ecsram("migrate", "--database", url).returncode == 0


def test_port_in_use_is_a_clear_error(server: ServerProcess) -> None:
    result = _ecsram("serve", "--port", str(server.port), "--database", server.database_url)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{server.port}" in result.stderr


def test_database_url_from_the_environment(database_factory: Callable[[], str]) -> None:
    url = database_factory()
    process = ServerProcess(url, env={"ECSRAM_DATABASE_URL": url})
    process.database_url = url
    with process:
        assert process.healthy()


def test_unreachable_database_is_reported(tmp_path: Any) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(ServerFailed):
        ServerProcess(f"sqlite:///{blocked}/sub/ecsram.db", startup_timeout=10).start()


def test_clock_endpoint_only_with_test_clock(
    server: ServerProcess, server_factory: Callable[..., ServerProcess]
) -> None:
    import urllib.error
    import urllib.request

    def post(url: str) -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post(f"{server.url}/_ecsram/clock?advance=60") == 404  # a fixed clock cannot be moved
    clocked = server_factory(test_clock=True)
    for bad in ("", "nan", "inf", "soon", "1e300", "-1e300", "1e10"):
        assert post(f"{clocked.url}/_ecsram/clock?advance={bad}") == 400
    assert post(f"{clocked.url}/_ecsram/clock?advance=-30") == 200
    # The offset is bounded in total too (50 years either way), not only per call.
    assert post(f"{clocked.url}/_ecsram/clock?advance=1500000000") == 200
    assert post(f"{clocked.url}/_ecsram/clock?advance=100000000") == 400
    assert post(f"{clocked.url}/_ecsram/clock?advance=-1500000000") == 200
    # The service still answers with the clock moved that far.
    with urllib.request.urlopen(f"{clocked.url}/_ecsram/health", timeout=5) as response:
        assert response.status == 200
