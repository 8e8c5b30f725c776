"""Run wrk with walk.lua over the request files: one wrk thread per lane."""

from __future__ import annotations

import json
import math
import resource
import shutil
import subprocess
from pathlib import Path

from bench.loadgen.common import LoadResult, LoadSpec, cpu_seconds, result_from_json

SCRIPT = Path(__file__).with_name("walk.lua")
MARK = "@@RESULT@@"


class WrkMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed (Debian: apt-get install -y wrk), or use --generator python")
    return path


def wrk_version() -> str:
    try:
        out = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, check=False)
    except (WrkMissing, OSError):
        return "missing"
    text = out.stdout + out.stderr
    return text.split("[")[0].replace("wrk", "").strip() or "unknown"


def wrk_command(spec: LoadSpec, prefix: Path) -> list[str]:
    follow = spec.follow
    if spec.connections % spec.lanes:
        raise ValueError("connections must be a multiple of lanes (wrk threads)")
    return [
        wrk_binary(),
        "-t",
        str(spec.lanes),
        "-c",
        str(spec.connections),
        "-d",
        f"{max(1, math.ceil(spec.duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        f"http://{spec.host}:{spec.port}/",
        "--",
        str(prefix),
        f"{spec.host}:{spec.port}",
        spec.fail_marker or "",
        follow.lua_pattern if follow else "",
        "wrap" if spec.wrap else "",
        spec.done.lua_pattern if spec.done else "",
    ]


def run_wrk(spec: LoadSpec, prefix: Path) -> LoadResult:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        wrk_command(spec, prefix), capture_output=True, text=True, timeout=spec.duration + 120, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(MARK):
            result = result_from_json("wrk", spec.connections, json.loads(line[len(MARK) :]))
            result.extra["generator_cpu_s"] = cpu_seconds(before)
            return result
    raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
