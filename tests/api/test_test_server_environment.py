"""ServerProcess, the test servers' launcher, chooses the listeners and the test clock itself."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest

from ecsram.testing.server import ServerProcess, sqlite_url


def test_a_test_server_takes_no_listeners_from_the_callers_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ECSRAM_METADATA_LISTENERS", "127.0.0.1:0")
    monkeypatch.setenv("ECSRAM_TEST_CLOCK", "1")
    with ServerProcess(sqlite_url(tmp_path)) as server:
        assert server.metadata_listeners == []
        with pytest.raises(urllib.error.HTTPError) as fixed:
            server.advance_clock(5)
        assert fixed.value.code == 404
    with ServerProcess(sqlite_url(tmp_path), extra_args=("--metadata-listen", "127.0.0.1:0")) as server:
        assert len(server.metadata_listeners) == 1
