"""Measuring: calibrate a workload's request budget, then run it repeatedly, interleaved with the
measurements it will be compared with, so that a machine's drifting load hits both sides alike.

A run's budget of pre-signed requests is its calibrated rate x duration x 1.5; a run that
exhausts its budget is thrown away and repeated with twice as many (it would under-report).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen.common import LoadResult, LoadSpec, remove_request_files, run_load, write_request_files
from bench.workloads import PoolExhausted, Workload

HEADROOM = 1.5
MAX_RETRIES = 3


@dataclass(frozen=True)
class LoadSettings:
    generator: str = "wrk"
    lanes: int = 1
    duration: float = 10.0
    warmup: float = 2.0
    repeats: int = 3


@dataclass
class Measurement:
    """One (scenario, system, workers, connections) cell of the results, and its runs."""

    scenario: str
    system: str  # "ecsram" | "hello" | "moto"
    workers: int | None
    connections: int
    port: int
    workload: Workload
    generator: str = ""
    lanes: int = 0
    label: str = ""
    runs: list[LoadResult] = field(default_factory=list)
    warmup: LoadResult | None = None
    rate: float = 1000.0
    status: str = "ok"  # "ok" | "failed" | "pending"
    note: str = ""

    @property
    def key(self) -> str:
        workers = f"w{self.workers}" if self.workers else "w-"
        return f"{self.scenario}|{self.system}|{workers}|c{self.connections}{self.label}"

    def _median(self, pick: Callable[[LoadResult], float]) -> float | None:
        values = [pick(run) for run in self.runs]
        return statistics.median(values) if values else None

    @property
    def rps(self) -> float | None:
        return self._median(lambda r: r.rps)

    @property
    def p50(self) -> float | None:
        return self._median(lambda r: r.latency_ms["p50"])

    @property
    def p99(self) -> float | None:
        return self._median(lambda r: r.latency_ms["p99"])

    @property
    def clean(self) -> bool:
        """Every run answered without a single error, and the runs were not cut short."""
        return self.status == "ok" and bool(self.runs) and all(run.ok for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "scenario": self.scenario,
            "system": self.system,
            "workers": self.workers,
            "connections": self.connections,
            "generator": self.generator,
            "lanes": self.lanes,
            "label": self.label,
            "status": self.status,
            "clean": self.clean,
            "note": self.note,
            "median": {"rps": self.rps, "p50_ms": self.p50, "p99_ms": self.p99},
            "warmup": self.warmup.to_json() if self.warmup else None,
            "runs": [run.to_json() for run in self.runs],
        }


def measurement_from_json(data: dict[str, Any]) -> Measurement:
    """A measurement read back from a results file (for re-rendering the tables)."""
    prefix = f"c{data['connections']}"
    label = data.get("label", data["key"].split("|")[3].removeprefix(prefix))
    m = Measurement(
        data["scenario"],
        data["system"],
        data["workers"],
        data["connections"],
        port=0,
        workload=Workload("from file"),
        generator=data.get("generator", ""),
        lanes=data.get("lanes", 0),
        label=label,
        status=data["status"],
        note=data.get("note", ""),
    )
    m.runs = [LoadResult.from_json(run) for run in data["runs"]]
    return m


class Runner:
    def __init__(self, settings: LoadSettings, workdir: Path, log: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.workdir = workdir
        self.log = log

    def _spec(self, m: Measurement, duration: float) -> LoadSpec:
        return LoadSpec(
            host="127.0.0.1",
            port=m.port,
            connections=m.connections,
            duration=duration,
            lanes=m.lanes,
            fail_marker=m.workload.fail_marker,
            follow=m.workload.follow,
            done=m.workload.done,
            template=m.workload.template,
            wrap=m.workload.wrap,
            balance=m.workers or 1,
        )

    def _spread_sampler(self, m: Measurement, duration: float) -> tuple[threading.Thread, dict[str, int]]:
        """Count the connections to the server per process, half-way through the run."""
        spread: dict[str, int] = {}

        def sample() -> None:
            time.sleep(duration / 2)
            spread.update(connections_per_process(m.port))

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        return thread, spread

    def _once(self, m: Measurement, duration: float) -> LoadResult:
        """One run with a budget sized from the current rate estimate; retried if the budget ran out."""
        budget = int(m.rate * duration * HEADROOM) + 4 * m.connections
        prefix = self.workdir / "requests"
        for _attempt in range(MAX_RETRIES + 1):
            lanes = m.workload.lanes(m.lanes, budget)
            write_request_files(prefix, lanes, m.workload.template)
            sampler, spread = self._spread_sampler(m, duration)
            try:
                result = run_load(m.generator, self._spec(m, duration), prefix)
                sampler.join(timeout=5)
                result.extra["connections_per_process"] = sorted(spread.values(), reverse=True)
            finally:
                remove_request_files(prefix, m.lanes)
                m.workload.after_run()
            if not result.exhausted:
                return result
            self.log(f"    {m.key}: {budget} pre-signed requests ran out; retrying with more")
            budget *= 2
        return result

    def prepare(self, m: Measurement) -> None:
        """Fill in the generator settings and warm the server up; the warm-up run sets the rate estimate."""
        m.generator = m.generator or self.settings.generator
        m.lanes = m.lanes or min(self.settings.lanes, m.connections)
        m.rate = m.workload.rate_hint
        if m.status != "ok":
            return
        try:
            m.warmup = self._once(m, self.settings.warmup)
        except (PoolExhausted, RuntimeError, OSError) as exc:
            self.fail(m, exc)
            return
        if m.warmup.completed:
            m.rate = max(m.warmup.rps, 1.0)
        if not m.warmup.ok:
            self.log(f"    {m.key}: warm-up had errors: {describe_errors(m.warmup)}")

    def fail(self, m: Measurement, exc: Exception) -> None:
        m.status, m.note = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        self.log(f"    {m.key}: FAILED: {m.note[:300]}")

    def run_round(self, m: Measurement) -> None:
        if m.status != "ok":
            return
        try:
            result = self._once(m, self.settings.duration)
        except (PoolExhausted, RuntimeError, OSError) as exc:
            self.fail(m, exc)
            return
        m.runs.append(result)
        m.rate = max(m.rate, result.rps)
        flag = "" if result.ok else f"  !! {describe_errors(result)}"
        spread = "/".join(str(n) for n in result.extra.get("connections_per_process", []))
        self.log(
            f"    {m.key:58s} {result.rps:9.0f} req/s  p50 {result.latency_ms['p50']:7.2f} ms"
            f"  p99 {result.latency_ms['p99']:7.2f} ms  conns {spread}{flag}"
        )

    def measure(self, group: Sequence[Measurement]) -> None:
        """Warm each up, then ``repeats`` rounds, each running every measurement of the group once."""
        for m in group:
            self.prepare(m)
        for round_number in range(self.settings.repeats):
            self.log(f"  round {round_number + 1}/{self.settings.repeats}")
            for m in group:
                self.run_round(m)
            time.sleep(0.2)


def connections_per_process(port: int) -> dict[str, int]:
    """Established connections to ``port`` per server process (pid), from ``ss``."""
    try:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(Counter(re.findall(r"pid=(\d+)", out)))


def describe_errors(result: LoadResult) -> str:
    parts = []
    if result.non2xx:
        parts.append(f"{result.non2xx} non-2xx")
    if result.failed:
        parts.append(f"{result.failed} failed items")
    if result.socket_errors:
        parts.append(f"{result.socket_errors} socket errors")
    if result.unmatched:
        parts.append(f"{result.unmatched} unmatched follow-ups")
    if result.exhausted:
        parts.append("ran out of requests")
    if not result.completed:
        parts.append("no responses")
    sample = f"; e.g. {result.samples[0][:200]}" if result.samples else ""
    return ", ".join(parts) + sample
