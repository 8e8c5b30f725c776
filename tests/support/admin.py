"""The admin endpoints and the ``ecsram`` command line, for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import orjson

from ecsram.testing.server import ServerProcess


def timed_get(url: str) -> tuple[int, dict[str, Any], float]:
    """GET a JSON endpoint (health, readiness): its status, document and how long it took."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    return status, orjson.loads(body), time.monotonic() - started


def admin(server: ServerProcess, method: str, path: str) -> tuple[int, Any]:
    """(status, decoded JSON body) of an admin request such as ``("POST", "/_ecsram/reset")``."""
    request = urllib.request.Request(f"{server.url}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def state(server: ServerProcess, account_id: str | None = None) -> dict[str, Any]:
    status, body = admin(server, "GET", "/_ecsram/state" + (f"?account={account_id}" if account_id else ""))
    assert status == 200, body
    return dict(body)


def ecsram(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``ecsram`` command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "ecsram", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
