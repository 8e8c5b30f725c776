"""The asyncio load generator: one task per keep-alive connection, one request in flight each.

Runs in its own process (``python -m bench.loadgen.pyclient ...``) on uvloop, walks the same lane
files as walk.lua with the same rules (connections spread evenly over the lanes, follow-ups
released by responses) and prints the same ``@@RESULT@@{json}`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen.common import LoadResult, LoadSpec, cpu_seconds, result_from_json

MARK = "@@RESULT@@"


def build_request(line: str, host: str) -> bytes:
    target, *headers = line.split("\t")
    if not any(h[:5].lower() == "host:" for h in headers):
        headers.append(f"Host: {host}")
    head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n"
    return head.encode("latin-1")


@dataclass
class Counters:
    sent: int = 0
    followed: int = 0
    non2xx: int = 0
    failed: int = 0
    unmatched: int = 0
    socket_errors: int = 0
    exhausted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    latencies: list[int] = field(default_factory=list)

    def sample(self, body: bytes) -> None:
        if len(self.samples) < 3:
            self.samples.append(body[:400].decode("utf-8", "replace"))


@dataclass
class LaneState:
    """One lane, shared by its connections as a wrk thread's Lua state is."""

    requests: list[bytes]
    follows: dict[bytes, deque[bytes]]
    template: tuple[bytes, bytes] | None
    keys: list[bytes] = field(default_factory=list)
    ready: deque[bytes] = field(default_factory=deque)
    busy: set[bytes] = field(default_factory=set)
    deferred: deque[int] = field(default_factory=deque)
    index: int = 0

    def release(self, key: bytes, counters: Counters) -> None:
        queue = self.follows.get(key)
        if queue:
            self.ready.append(queue.popleft())
        elif self.template is not None:
            self.ready.append(self.template[0] + key + self.template[1])
        else:
            counters.unmatched += 1


@dataclass
class Walk:
    host: str
    port: int
    deadline: float
    fail_marker: bytes | None
    follow: re.Pattern[bytes] | None
    done: re.Pattern[bytes] | None
    wrap: bool


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError("response without Content-Length")
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end])


def _next_line(lane: LaneState, walk: Walk) -> int | None:
    """The next lane line whose key is not busy (deferring those that are), or None when used up."""
    for _ in range(len(lane.deferred)):
        i = lane.deferred.popleft()
        if lane.keys[i] not in lane.busy:
            return i
        lane.deferred.append(i)
    while True:
        if lane.index >= len(lane.requests):
            if not walk.wrap:
                return None
            lane.index = 0
        i = lane.index
        lane.index += 1
        if not lane.keys or lane.keys[i] not in lane.busy:
            return i
        lane.deferred.append(i)
        if len(lane.deferred) > 10000:
            return None


def _next_request(lane: LaneState, walk: Walk, counters: Counters) -> bytes | None:
    if lane.ready:
        counters.followed += 1
        return lane.ready.popleft()
    i = _next_line(lane, walk)
    if i is None:
        counters.exhausted = 1
        return None
    if lane.keys:
        lane.busy.add(lane.keys[i])
    counters.sent += 1
    return lane.requests[i]


async def _accepting_process(server_port: int, client_port: int) -> str | None:
    """The pid of the server process that accepted our connection from ``client_port``."""
    for _ in range(50):
        process = await asyncio.create_subprocess_exec(
            "ss",
            "-tnpH",
            "state",
            "established",
            f"( sport = :{server_port} and dport = :{client_port} )",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await process.communicate()
        match = re.search(rb"pid=(\d+)", out)
        if match:
            return match.group(1).decode()
        await asyncio.sleep(0.005)  # not accepted yet
    return None


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_connections(host: str, port: int, count: int, balance: int) -> tuple[list[Stream], list[int]]:
    """``count`` connections, one at a time. With ``balance`` = N worker processes, a connection that
    lands on a process already holding its share is closed and opened again, so the N processes
    hold count/N each (opened in one burst, they would all go to whichever process woke first)."""
    streams: list[Stream] = []
    per_process: Counter[str] = Counter()
    share = -(-count // balance) if balance > 1 else count
    for _ in range(count):
        for _attempt in range(200):
            reader, writer = await asyncio.open_connection(host, port)
            if balance <= 1:
                break
            owner = await _accepting_process(port, writer.get_extra_info("sockname")[1])
            if owner is None or per_process[owner] < share:
                per_process[owner or "?"] += 1
                break
            writer.close()
            await asyncio.sleep(0.002)
        streams.append((reader, writer))
        await asyncio.sleep(0.005)
    return streams, sorted(per_process.values(), reverse=True)


REQUEST_TIMEOUT = 10.0  # as wrk --timeout 10s


async def _exchange(stream: Stream, data: bytes) -> tuple[bytes, bytes]:
    reader, writer = stream
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    body = await reader.readexactly(_content_length(head))
    return head, body


async def walk_connection(
    walk: Walk, lane: LaneState, counters: Counters, ready: asyncio.Event, stream: Stream
) -> None:
    """Send this connection's share of the lane until the deadline. A server that closes the
    connection after an answer (moto_server: ``Connection: close``) gets a new one, as wrk does."""
    await ready.wait()
    clock = time.perf_counter_ns
    try:
        while time.perf_counter() < walk.deadline:
            data = _next_request(lane, walk, counters)
            if data is None:
                return
            started = clock()
            try:
                head, body = await asyncio.wait_for(_exchange(stream, data), REQUEST_TIMEOUT)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                counters.socket_errors += 1
                stream[1].close()
                stream = await asyncio.open_connection(walk.host, walk.port)
                continue
            counters.latencies.append(clock() - started)
            if b"\r\nconnection: close" in head.lower():
                stream[1].close()
                stream = await asyncio.open_connection(walk.host, walk.port)
            status = int(head[9:12])
            key = str(status)
            counters.statuses[key] = counters.statuses.get(key, 0) + 1
            if not 200 <= status <= 299:
                counters.non2xx += 1
                counters.sample(body)
                continue
            if walk.fail_marker is not None and walk.fail_marker in body:
                counters.failed += 1
                counters.sample(body)
            if walk.follow is not None:
                match = walk.follow.search(body)
                if match:
                    lane.release(match.group(1), counters)
            if walk.done is not None:
                match = walk.done.search(body)
                if match:
                    lane.busy.discard(match.group(1))
    except OSError:
        counters.socket_errors += 1
    finally:
        stream[1].close()


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile."""
    if not sorted_values:
        return 0
    rank = max(0, min(len(sorted_values) - 1, int(pct / 100.0 * len(sorted_values) + 0.999999) - 1))
    return sorted_values[rank]


def load_lane(prefix: str, index: int, host: str, template: tuple[bytes, bytes] | None) -> LaneState:
    lane_path = Path(f"{prefix}.{index}")
    requests = [build_request(line, host) for line in lane_path.read_text().splitlines() if line]
    follows: dict[bytes, deque[bytes]] = {}
    follow_path = Path(f"{prefix}.{index}.follow")
    if follow_path.exists():
        for line in follow_path.read_text().splitlines():
            key, _, rest = line.partition("\t")
            follows.setdefault(key.encode(), deque()).append(build_request(rest, host))
    keys_path = Path(f"{prefix}.{index}.keys")
    keys = [line.encode() for line in keys_path.read_text().splitlines()] if keys_path.exists() else []
    return LaneState(requests, follows, template, keys)


async def run(args: argparse.Namespace) -> dict[str, object]:
    host_header = f"{args.host}:{args.port}"
    template = None
    template_path = Path(f"{args.prefix}.template")
    if template_path.exists():
        head, tail = build_request(template_path.read_text().splitlines()[0], host_header).split(b"{}", 1)
        template = (head, tail)
    lanes = [load_lane(args.prefix, k, host_header, template) for k in range(args.lanes)]
    counters = Counters()
    ready = asyncio.Event()
    walk = Walk(
        args.host,
        args.port,
        0.0,
        args.fail_marker.encode() if args.fail_marker else None,
        re.compile(args.follow_regex.encode()) if args.follow_regex else None,
        re.compile(args.done_regex.encode()) if args.done_regex else None,
        args.wrap,
    )
    streams, spread = await open_connections(args.host, args.port, args.connections, args.balance)
    tasks = [
        asyncio.ensure_future(walk_connection(walk, lanes[c % args.lanes], counters, ready, stream))
        for c, stream in enumerate(streams)
    ]
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    walk.deadline = started + args.duration
    ready.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    latencies = sorted(counters.latencies)
    us = 1000.0
    return {
        "completed": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "bytes": 0,
        "socket_errors": counters.socket_errors,
        "timeouts": 0,
        "sent": counters.sent,
        "followed": counters.followed,
        "unmatched": counters.unmatched,
        "non2xx": counters.non2xx,
        "failed": counters.failed,
        "exhausted": counters.exhausted,
        "statuses": counters.statuses,
        "samples": counters.samples,
        "balanced_spread": spread,
        "latency_us": {
            "p50": percentile(latencies, 50) / us,
            "p90": percentile(latencies, 90) / us,
            "p99": percentile(latencies, 99) / us,
            "p999": percentile(latencies, 99.9) / us,
            "mean": (sum(latencies) / len(latencies) / us) if latencies else 0.0,
            "max": (latencies[-1] / us) if latencies else 0.0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--lanes", type=int, default=1)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--fail-marker", default="")
    parser.add_argument("--follow-regex", default="")
    parser.add_argument("--done-regex", default="")
    parser.add_argument("--wrap", action="store_true")
    parser.add_argument("--balance", type=int, default=1, help="spread connections evenly over N server processes")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(MARK + json.dumps(asyncio.run(run(args))), flush=True)


def run_pyclient(spec: LoadSpec, prefix: Path) -> LoadResult:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen.pyclient",
        "--prefix",
        str(prefix),
        "--host",
        spec.host,
        "--port",
        str(spec.port),
        "--connections",
        str(spec.connections),
        "--lanes",
        str(spec.lanes),
        "--duration",
        str(spec.duration),
        "--fail-marker",
        spec.fail_marker or "",
        "--follow-regex",
        spec.follow.regex if spec.follow else "",
        "--done-regex",
        spec.done.regex if spec.done else "",
    ]
    if spec.wrap:
        command.append("--wrap")
    if spec.balance > 1:
        command += ["--balance", str(spec.balance)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=spec.duration + 180,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    for line in completed.stdout.splitlines():
        if line.startswith(MARK):
            result = result_from_json("python", spec.connections, json.loads(line[len(MARK) :]))
            result.extra["generator_cpu_s"] = cpu_seconds(before)
            return result
    raise RuntimeError(f"pyclient failed ({completed.returncode}):\n{completed.stderr[-3000:]}")


if __name__ == "__main__":
    main()
