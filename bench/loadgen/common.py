"""What both generators share: the request files they walk, the run's parameters and its result.

Request files, one "lane" per wrk thread (the asyncio client spreads its connections over the
same lanes): ``PREFIX.k`` holds lane k's requests in order, one per line, ``TARGET`` optionally
followed by ``<TAB>Name: value`` headers (a ``Host`` header among them replaces the default);
``PREFIX.k.follow`` holds ``KEY<TAB>LINE`` follow-ups, released when a response carrying KEY
arrives; ``PREFIX.k.keys`` the key of each lane line (busy until its "done" answer);
``PREFIX.template`` a follow-up line with ``{}`` for the key (walk.lua documents the protocol).
"""

from __future__ import annotations

import resource
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Follow:
    """A pattern capturing a key from a response body (to release a follow-up, or free a busy key)."""

    lua_pattern: str  # Lua pattern with one capture (wrk)
    regex: str  # the same as a Python regular expression (asyncio client)


@dataclass
class Lane:
    """One lane's requests: the sequence, and follow-ups keyed by what a response must carry."""

    lines: list[str] = field(default_factory=list)
    follows: list[tuple[str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # empty, or one per line


@dataclass(frozen=True)
class LoadSpec:
    host: str  # "127.0.0.1"
    port: int
    connections: int
    duration: float
    lanes: int = 1  # wrk threads; every lane gets connections // lanes connections
    fail_marker: str | None = None  # a 2xx body containing this counts as a failure
    follow: Follow | None = None  # which answers release a follow-up
    done: Follow | None = None  # which answers free their key for the lane's next line with that key
    template: str | None = None  # follow-up line with "{}" for keys that have no queued follow-up
    wrap: bool = False  # may a lane re-send its lines from the start (only for servers that ignore them)
    balance: int = 1  # server worker processes to spread the connections over evenly (asyncio client only)


@dataclass
class LoadResult:
    generator: str
    connections: int
    duration_s: float
    completed: int  # responses received
    sent: int  # lines taken from the files
    followed: int  # follow-up requests sent
    unmatched: int  # responses whose follow-up key had nothing queued (a bug in the workload)
    non2xx: int
    failed: int  # 2xx responses that carried the failure marker
    socket_errors: int
    exhausted: bool  # a connection ran out of lines before the end: the duration is wrong
    statuses: dict[str, int]
    samples: list[str]
    latency_ms: dict[str, float]  # p50, p90, p99, p999, mean, max
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.completed / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.failed + self.socket_errors + self.unmatched

    @property
    def ok(self) -> bool:
        return self.errors == 0 and not self.exhausted and self.completed > 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rps": round(self.rps, 1), "errors": self.errors, "ok": self.ok}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def write_request_files(prefix: Path, lanes: Sequence[Lane], template: str | None = None) -> None:
    for index, lane in enumerate(lanes):
        if any("\n" in line for line in lane.lines) or any("\n" in line for _, line in lane.follows):
            raise ValueError("request lines must not contain newlines")
        Path(f"{prefix}.{index}").write_text("".join(f"{line}\n" for line in lane.lines))
        follow_path = Path(f"{prefix}.{index}.follow")
        if lane.follows:
            follow_path.write_text("".join(f"{key}\t{line}\n" for key, line in lane.follows))
        else:
            follow_path.unlink(missing_ok=True)
        keys_path = Path(f"{prefix}.{index}.keys")
        if lane.keys:
            if len(lane.keys) != len(lane.lines):
                raise ValueError("a lane's keys must match its lines one to one")
            keys_path.write_text("".join(f"{key}\n" for key in lane.keys))
        else:
            keys_path.unlink(missing_ok=True)
    template_path = Path(f"{prefix}.template")
    if template is not None:
        template_path.write_text(template + "\n")
    else:
        template_path.unlink(missing_ok=True)


def remove_request_files(prefix: Path, lanes: int) -> None:
    names = [f"{prefix}.template"]
    for index in range(lanes):
        names += [f"{prefix}.{index}", f"{prefix}.{index}.follow", f"{prefix}.{index}.keys"]
    for name in names:
        Path(name).unlink(missing_ok=True)


def result_from_json(generator: str, connections: int, data: dict[str, Any]) -> LoadResult:
    latency = {name: round(value / 1000.0, 3) for name, value in data["latency_us"].items()}
    return LoadResult(
        generator=generator,
        connections=connections,
        duration_s=data["duration_us"] / 1e6,
        completed=int(data["completed"]),
        sent=int(data["sent"]),
        followed=int(data["followed"]),
        unmatched=int(data.get("unmatched", 0)),
        non2xx=int(data["non2xx"]),
        failed=int(data["failed"]),
        socket_errors=int(data["socket_errors"]),
        exhausted=bool(data["exhausted"]),
        statuses={str(k): int(v) for k, v in data["statuses"].items()},
        samples=list(data["samples"]),
        latency_ms=latency,
    )


def cpu_seconds(before: resource.struct_rusage) -> float:
    """CPU time (user + system) used by child processes since ``before``: the generator's own cost."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3)


GENERATORS = ("wrk", "python")


def run_load(generator: str, spec: LoadSpec, prefix: Path) -> LoadResult:
    """Run one timed load against files already written at ``prefix``."""
    if generator == "wrk":
        from bench.loadgen.wrk import run_wrk

        return run_wrk(spec, prefix)
    if generator == "python":
        from bench.loadgen.pyclient import run_pyclient

        return run_pyclient(spec, prefix)
    raise ValueError(f"unknown generator {generator!r}; choose from {', '.join(GENERATORS)}")
