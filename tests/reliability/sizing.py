"""How big the reliability suites run: the CI size by default, the full size with
``ECSRAM_RELIABILITY=full`` (docs/reliability.md). With ``ECSRAM_RELIABILITY_REPORT=FILE`` each
suite appends its figures to FILE as one JSON object per line."""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

FULL = os.environ.get("ECSRAM_RELIABILITY", "ci").strip().lower() == "full"


def sized(ci: int, full: int) -> int:
    return full if FULL else ci


def report(suite: str, **figures: Any) -> None:
    """Print the suite's figures (seen with ``-s``) and append them to the report file, if any."""
    line = orjson.dumps(
        {"suite": suite, "size": "full" if FULL else "ci", "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        | figures
    )
    print(f"\n[reliability] {line.decode()}")
    path = os.environ.get("ECSRAM_RELIABILITY_REPORT")
    if path:
        with open(path, "ab") as out:
            out.write(line + b"\n")
