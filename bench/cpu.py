"""Server CPU time per request on the real server stack: a figure the machine's load barely moves.

``bench.instructions`` counts the application's instructions in-process, without the HTTP server
around it; this measures the whole worker (uvicorn, httptools, uvloop, the application) as it
serves requests: a 1-worker ecsram per ``--ecsram-src`` (all started at once), one keep-alive
connection each, requests sent one at a time, and the worker's user + system CPU time (from
``/proc``) before and after each run of ``--requests`` requests. The builds' runs are
interleaved round by round; the median per build is reported, with every round.

    python -m bench.cpu --ecsram-src /tmp/before/src --ecsram-src /tmp/after/src

Cells: attach+detach cycles (AttachInstanceRamRole, then DetachInstanceRamRole on the same
instance), DescribeInstanceRamRole by InstanceIds, and the metadata credentials fetch.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.servers import MAIN, Server, start_ecsram
from bench.signer import V1Signer

KEY_ID, SECRET, ACCOUNT = "LTAI5tBenchCpuPerRequest", "BenchCpuPerRequestSecret0", "1000000000000888"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TRUST = json.dumps(
    {
        "Version": "1",
        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["ecs.aliyuncs.com"]}}],
    }
)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Target:
    """One ecsram build: its server, a keep-alive connection, the instances made for the cells."""

    def __init__(self, source: Path, workdir: Path) -> None:
        self.source = source
        database = f"sqlite:///{workdir}/cpu.db"
        env = {**os.environ, "PYTHONPATH": str(source)}
        command = [str(MAIN / ".venv" / "bin" / "python"), "-m", "ecsram", "account", "create"]
        command += ["--account-id", ACCOUNT, "--access-key-id", KEY_ID, "--access-key-secret", SECRET]
        subprocess.run([*command, "--database", database], env=env, check=True, capture_output=True)
        self.server: Server = start_ecsram(database, 1, source)
        self.worker = self.server.worker_pids()[0]
        self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.signer = V1Signer(KEY_ID, SECRET)
        role = {"Action": "CreateRole", "Version": "2015-05-01", "RoleName": "cpu", "AssumeRolePolicyDocument": TRUST}
        self.call(role)
        created = self.call(
            {
                "Action": "RunInstances",
                "Version": "2014-05-26",
                "RegionId": "cn-hangzhou",
                "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd",
                "InstanceType": "ecs.g7.large",
                "VSwitchId": "vsw-bench000000000000001",
                "Amount": "100",
            }
        )
        self.ids: list[str] = created["InstanceIdSets"]["InstanceIdSet"]
        self.bound = self.ids[50:]
        for instance in self.bound:
            self.call(self._ecs("AttachInstanceRamRole", instance, RamRoleName="cpu"))

    @staticmethod
    def _ecs(action: str, instance: str, **extra: str) -> dict[str, str]:
        return {
            "Action": action,
            "Version": "2014-05-26",
            "RegionId": "cn-hangzhou",
            "InstanceIds": json.dumps([instance]),
            **extra,
        }

    def get(self, target: str, headers: dict[str, str] | None = None) -> bytes:
        self.connection.request("GET", target, headers=headers or {})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.source}: {response.status} {body[:300]!r}")
        return body

    def call(self, params: dict[str, str]) -> dict[str, object]:
        result: dict[str, object] = json.loads(self.get(self.signer.target(params)))
        return result

    def lines(self, cell: str, count: int) -> list[tuple[str, dict[str, str]]]:
        if cell == "attach_detach":
            out = []
            for n in range(count // 2):
                instance = self.ids[n % 50]
                out.append((self.signer.target(self._ecs("AttachInstanceRamRole", instance, RamRoleName="cpu")), {}))
                out.append((self.signer.target(self._ecs("DetachInstanceRamRole", instance, RamRoleName="cpu")), {}))
            return out
        if cell == "describe_by_instance":
            return [
                (self.signer.target(self._ecs("DescribeInstanceRamRole", self.bound[n % 50])), {}) for n in range(count)
            ]
        if cell == "imds_credentials":
            target = "http://100.100.100.200/latest/meta-data/ram/security-credentials/cpu"
            return [
                (target, {"Host": "100.100.100.200", "Proxy-Authorization": _basic(self.bound[n % 50])})
                for n in range(count)
            ]
        raise ValueError(cell)

    def run(self, cell: str, count: int) -> float:
        """Server CPU microseconds per request over ``count`` requests of the cell."""
        lines = self.lines(cell, count)
        self.connection.close()  # idle while the other builds ran: uvicorn's keep-alive timeout
        self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        before = _cpu_seconds(self.worker)
        for target, headers in lines:
            self.get(target, headers)
        return (_cpu_seconds(self.worker) - before) / len(lines) * 1e6

    def close(self) -> None:
        self.connection.close()
        self.server.stop()


def _basic(user: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--ecsram-src", type=Path, action="append", required=True, help="a src/ directory (repeat)")
    parser.add_argument("--requests", type=int, default=4000, help="requests per run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cells", default="attach_detach,describe_by_instance,imds_credentials")
    args = parser.parse_args()
    cells = args.cells.split(",")
    # A SIGTERM (e.g. from ``timeout``) must still stop the servers: let it unwind like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="ecsram-cpu-") as workdir:
        targets: list[Target] = []
        try:
            for n, source in enumerate(args.ecsram_src):
                (Path(workdir) / str(n)).mkdir()
                targets.append(Target(source.resolve(), Path(workdir) / str(n)))
            for target in targets:  # warm-up
                for cell in cells:
                    target.run(cell, 400)
            figures: dict[tuple[int, str], list[float]] = {}
            for _round in range(args.rounds):
                for cell in cells:
                    for n, target in enumerate(targets):
                        figure = target.run(cell, args.requests)
                        figures.setdefault((n, cell), []).append(figure)
                        print(f"round {_round + 1} {cell} {target.source}: {figure:.0f} us", flush=True)
        finally:
            for target in targets:
                target.close()
    for cell in cells:
        first = statistics.median(figures[(0, cell)])
        for n, source in enumerate(args.ecsram_src):
            runs = figures[(n, cell)]
            median = statistics.median(runs)
            rounds = " ".join(f"{value:.0f}" for value in runs)
            print(f"{cell:22} {source}: {median:7.1f} us CPU per request ({median / first:.3f}x; rounds {rounds})")


if __name__ == "__main__":
    main()
