"""The machine and the software versions a run was measured with."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from bench.loadgen.wrk import wrk_version
from bench.motoenv import moto_version


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_revision() -> str:
    main = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        ["git", "-C", str(main), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "-C", str(main), "status", "--porcelain", "src"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() + (" + uncommitted changes in src/" if dirty.stdout.strip() else "")


def describe() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "load_average": load_average(),
        "versions": {
            "python": platform.python_version(),
            "ecsram": _version("ecsram"),
            "uvicorn": _version("uvicorn"),
            "uvloop": _version("uvloop"),
            "httptools": _version("httptools"),
            "sqlalchemy": _version("sqlalchemy"),
            "sqlite": sqlite3.sqlite_version,
            "wrk": wrk_version(),
            "moto": moto_version(),
        },
        "ecsram_revision": git_revision(),
    }
