"""Instructions per request, counted by callgrind: a figure the machine's load cannot move.

Throughput on a shared 2-core machine moves by 2x between runs; the number of instructions the
CPU executes for the same requests does not (callgrind counts them on a simulated CPU). So to
compare two builds of ecsram (``--ecsram-src`` of each), this drives the ASGI app in-process over
a fresh SQLite store, twice under ``valgrind --tool=callgrind``: once with only the set-up
(account, role, instances) and once with set-up plus N signed attach+detach cycles and N
DescribeInstanceRamRole calls. The difference divided by the request count is the cost of one
request on the request path: parse, sign check, nonce, transaction, handler, render.

    python -m bench.instructions --ecsram-src /tmp/before/src --ecsram-src /tmp/after/src

Each request is its own batch (one at a time), so this is the 1-connection path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
KEY_ID, SECRET = "LTAI5tBenchInstructions", "BenchInstructionsSecret"


async def _call(app: Any, target: str) -> tuple[int, bytes]:
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8877")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8877),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _lifespan(app: Any, event: str) -> None:
    messages = [{"type": f"lifespan.{event}"}]
    answered: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "lifespan.shutdown"}

    async def send(message: dict[str, Any]) -> None:
        answered.append(message)
        if message["type"].endswith("complete") or message["type"].endswith("failed"):
            raise _Done

    with contextlib.suppress(_Done):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    if not answered or not answered[-1]["type"].endswith("complete"):
        raise RuntimeError(f"lifespan {event} failed: {answered}")


class _Done(Exception):
    pass


def drive(database_url: str, cycles: int) -> None:
    """Run in the measured process: set-up, then ``cycles`` attach+detach+describe rounds."""
    sys.path.insert(0, str(ROOT))
    from bench.signer import V1Signer
    from ecsram.app import create_app

    os.environ["ECSRAM_DATABASE_URL"] = database_url
    app = create_app()
    signer = V1Signer(KEY_ID, SECRET)

    async def main() -> None:
        await _lifespan(app, "startup")

        async def ok(params: dict[str, str]) -> Any:
            status, body = await _call(app, signer.target(params))
            if status != 200:
                raise RuntimeError(f"{params['Action']}: {status} {body[:300]!r}")
            return json.loads(body)

        trust = json.dumps(
            {
                "Version": "1",
                "Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["ecs.aliyuncs.com"]}}
                ],
            }
        )
        await ok(
            {"Action": "CreateRole", "Version": "2015-05-01", "RoleName": "bench", "AssumeRolePolicyDocument": trust}
        )
        created = await ok(
            {
                "Action": "RunInstances",
                "Version": "2014-05-26",
                "RegionId": "cn-hangzhou",
                "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd",
                "InstanceType": "ecs.g7.large",
                "VSwitchId": "vsw-bench000000000000001",
                "Amount": "10",
            }
        )
        ids = created["InstanceIdSets"]["InstanceIdSet"]
        # The set-up's objects out of the collector's way: a full collection over them lands in
        # one run and not another and moved the figure per request by ~5% between equal runs.
        gc.collect()
        gc.freeze()
        for n in range(cycles):
            instance = json.dumps([ids[n % len(ids)]])
            common = {"Version": "2014-05-26", "RegionId": "cn-hangzhou", "InstanceIds": instance}
            await ok({"Action": "AttachInstanceRamRole", "RamRoleName": "bench", **common})
            await ok({"Action": "DescribeInstanceRamRole", **common})
            await ok({"Action": "DetachInstanceRamRole", "RamRoleName": "bench", **common})
        await _lifespan(app, "shutdown")

    asyncio.run(main())


def _prepare(source: Path, database_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = ["account", "create", "--account-id", "1000000000000777", "--access-key-id", KEY_ID]
    command += ["--access-key-secret", SECRET, "--database", database_url]
    subprocess.run([str(PYTHON), "-m", "ecsram", *command], env=env, check=True, capture_output=True)


def count(source: Path, cycles: int) -> int:
    """Instructions callgrind counts for one process doing the set-up and ``cycles`` rounds."""
    with tempfile.TemporaryDirectory(prefix="ecsram-instr-") as workdir:
        database_url = f"sqlite:///{workdir}/bench.db"
        _prepare(source, database_url)
        out = Path(workdir) / "callgrind.out"
        env = {**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{ROOT}", "PYTHONHASHSEED": "0"}
        code = f"from bench.instructions import drive; drive({database_url!r}, {cycles})"
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(PYTHON), "-c", code],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"callgrind run failed:\n{result.stderr[-2000:]}")
        found = re.search(r"Collected : (\d+)", result.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count in callgrind's output:\n{result.stderr[-2000:]}")
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--ecsram-src", type=Path, action="append", required=True, help="a src/ directory (repeat)")
    parser.add_argument("--cycles", type=int, default=100, help="attach+describe+detach rounds (3 requests each)")
    args = parser.parse_args()
    rows = []
    for source in args.ecsram_src:
        base = count(source.resolve(), 0)
        loaded = count(source.resolve(), args.cycles)
        per_request = (loaded - base) / (3 * args.cycles)
        rows.append((str(source), base, loaded, per_request))
        print(
            f"{source}: set-up {base:,} instructions; +{args.cycles} rounds {loaded:,}; {per_request:,.0f} per request"
        )
    first = rows[0][3]
    for source, _base, _loaded, per_request in rows[1:]:
        print(f"{source} / {rows[0][0]}: {per_request / first:.3f}x instructions per request")


if __name__ == "__main__":
    main()
