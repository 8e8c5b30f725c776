"""Turn measurements into the results table, the same-run ratios against the targets, and files."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen.common import LoadResult
from bench.runner import Measurement


@dataclass(frozen=True)
class Ratio:
    name: str
    value: float | None
    target: str  # e.g. ">= 20", "<= 1.3"
    detail: str
    clean: bool  # both sides ran without errors

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "n/a"
        if self.target.startswith("info"):
            return "info"
        op, bound = self.target.split()
        limit = float(bound)
        ok = {">=": self.value >= limit, "<=": self.value <= limit, "<": self.value < limit}.get(op)
        if ok is None:
            return "info"
        flag = "" if self.clean else " (a side had errors)"
        if ok:
            return "met" + flag
        if op.startswith(">"):
            return f"missed: {limit / self.value:.1f}x short{flag}"
        return f"missed: {self.value / limit:.1f}x over{flag}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "target": self.target,
            "verdict": self.verdict,
            "detail": self.detail,
            "clean": self.clean,
        }


def rps(run: LoadResult) -> float:
    return run.rps


def p50(run: LoadResult) -> float:
    return run.latency_ms["p50"]


class Results:
    def __init__(self, measurements: Sequence[Measurement]) -> None:
        self.measurements = list(measurements)

    def find(
        self, scenario: str, system: str, workers: int | None, connections: int, label: str = ""
    ) -> Measurement | None:
        wanted = (scenario, system, workers, connections, label)
        for m in self.measurements:
            if (m.scenario, m.system, m.workers, m.connections, m.label) == wanted:
                return m if m.runs else None
        return None

    def ratio(
        self,
        name: str,
        a: Measurement | None,
        b: Measurement | None,
        pick: Callable[[LoadResult], float],
        target: str,
        unit: str,
        *,
        scale: float = 1.0,
    ) -> Ratio:
        """a / b. The cells of a group run interleaved, round by round, so run i of a and run i of b
        were measured back to back: the value is the median of those paired ratios (robust to
        the machine's load drifting between rounds); the ratio of the medians is shown beside it."""
        if a is None or b is None:
            return Ratio(name, None, target, "not measured", False)
        va = statistics.median(pick(run) for run in a.runs)
        vb = statistics.median(pick(run) for run in b.runs)
        if not va or not vb:
            return Ratio(name, None, target, "no data", False)
        value = va / vb * scale
        detail = f"{va:.4g} / {vb:.4g} {unit}" + (f" x {scale:g}" if scale != 1.0 else "")
        if len(a.runs) == len(b.runs) and all(pick(run) for run in b.runs):
            paired = [pick(x) / pick(y) * scale for x, y in zip(a.runs, b.runs, strict=True)]
            detail = f"paired runs: {', '.join(f'{r:.3g}' for r in paired)}; medians {detail} = {value:.3g}"
            value = statistics.median(paired)
        return Ratio(name, round(value, 4), target, detail, a.clean and b.clean)

    def ratios(self, workers: int, connections: int) -> list[Ratio]:
        f = self.find
        out: list[Ratio] = []
        moto = f("attach_detach", "moto", None, connections)
        for w in sorted({1, workers}):
            cycle = f("attach_detach", "ecsram", w, connections)
            out.append(
                self.ratio(f"attach+detach w{w} vs moto associate+disassociate", cycle, moto, rps, ">= 20", "req/s")
            )
            hello = f("hello", "hello", w, connections)
            out.append(self.ratio(f"attach+detach w{w} vs hello w{w}", cycle, hello, rps, ">= 0.40", "req/s"))
        for w in sorted({1, workers}):
            single = f("attach_single", "ecsram", w, connections)
            out.append(self.p99_over_p50(f"attach p99/p50 at {connections} conns, w{w}", single))
            cycle = f("attach_detach", "ecsram", w, connections)
            out.append(self.p99_over_p50(f"attach+detach p99/p50 at {connections} conns, w{w}", cycle))
        for scenario in ("store_attach_detach", "store_describe_by_instance"):
            big = f(scenario, "ecsram", 1, 1, "/1M")
            small = f(scenario, "ecsram", 1, 1, "/1k")
            name = f"{scenario.removeprefix('store_')} p50 at 1M vs 1k instances (1 connection)"
            out.append(self.ratio(name, big, small, p50, "<= 1.3", "ms"))
        one = f("attach_single", "ecsram", 1, 1)
        hundred = f("attach_batch100", "ecsram", 1, 1)
        out.append(
            self.ratio(
                "batch-100 call vs single call, latency p50 c1 (in single calls)", hundred, one, p50, "< 10", "ms"
            )
        )
        out.append(
            self.ratio(
                "one batch-100 call vs 100 single calls, latency c1", hundred, one, p50, "info -", "ms", scale=0.01
            )
        )
        for w in sorted({1, workers}):
            one = f("attach_single", "ecsram", w, connections)
            hundred = f("attach_batch100", "ecsram", w, connections)
            # cost of a call = 1 / throughput at saturation
            out.append(
                self.ratio(
                    f"batch-100 call vs single call, cost at c{connections} w{w} (in single calls)",
                    one,
                    hundred,
                    rps,
                    "< 10",
                    "calls/s",
                )
            )
        for w in sorted({1, workers}):
            hello = f("hello", "hello", w, connections)
            for scenario in ("DescribeRegions", "describe_by_instance", "describe_by_role", "imds_credentials"):
                m = f(scenario, "ecsram", w, connections)
                out.append(self.ratio(f"{scenario} w{w} vs hello w{w}", m, hello, rps, "info -", "req/s"))
        desc = f("describe_by_instance", "ecsram", workers, connections)
        out.append(
            self.ratio(
                f"describe_by_instance w{workers} vs moto describe",
                desc,
                f("describe_by_instance", "moto", None, connections),
                rps,
                "info -",
                "req/s",
            )
        )
        if workers != 1:
            for scenario, system in (("hello", "hello"), ("DescribeRegions", "ecsram"), ("attach_detach", "ecsram")):
                out.append(
                    self.ratio(
                        f"{scenario} w{workers} vs w1",
                        f(scenario, system, workers, connections),
                        f(scenario, system, 1, connections),
                        rps,
                        "info -",
                        "req/s",
                    )
                )
        out.extend(self.floor_ratios(connections))
        out.extend(self.pg_ratios(connections))
        return out

    def floor_ratios(self, connections: int) -> list[Ratio]:
        """floor group: ecsram's distance from its targets, split at the floor (bench/floor.py)."""
        f = self.find
        hello = f("hello", "hello", 1, connections, "/floor")
        if hello is None:
            return []
        bare = f("hello", "protocol_hello", 1, connections, "/floor")
        out = [self.ratio("floor group: protocol hello vs hello", bare, hello, rps, "info -", "req/s")]
        targets = {"attach_detach": ">= 0.40", "describe_by_instance": ">= 0.50", "imds_credentials": ">= 0.50"}
        for scenario, target in targets.items():
            floor = f(scenario, "floor", 1, connections, "/floor")
            ecsram = f(scenario, "ecsram", 1, connections, "/floor")
            out += [
                self.ratio(f"floor group: floor {scenario} vs hello", floor, hello, rps, "info -", "req/s"),
                self.ratio(f"floor group: ecsram {scenario} vs hello", ecsram, hello, rps, target, "req/s"),
                self.ratio(f"floor group: ecsram {scenario} vs floor", ecsram, floor, rps, "info -", "req/s"),
            ]
        return out

    def pg_ratios(self, connections: int) -> list[Ratio]:
        """pgscale: attach+detach on PostgreSQL vs hello, and behind the delay proxy vs direct."""
        f = self.find
        labels = {m.label for m in self.measurements if m.scenario == "pg_attach_detach"}
        delayed = sorted(label for label in labels - {"/direct"} if not label.endswith("/before"))
        before = sorted(label for label in labels if label.endswith("/before"))
        out: list[Ratio] = []
        workers = sorted({m.workers for m in self.measurements if m.scenario == "pg_attach_detach" and m.workers})
        for w in workers:
            hello = f("hello", "hello", w, connections, "/pg")
            direct = f("pg_attach_detach", "ecsram", w, connections, "/direct")
            out.append(self.ratio(f"pg attach+detach w{w} direct vs hello w{w}", direct, hello, rps, "info -", "req/s"))
            for label in delayed:
                slow = f("pg_attach_detach", "ecsram", w, connections, label)
                name = f"pg attach+detach w{w} {label.strip('/')} vs hello w{w}"
                out.append(self.ratio(name, slow, hello, rps, "info -", "req/s"))
                name = f"pg attach+detach w{w} {label.strip('/')} vs direct"
                out.append(self.ratio(name, slow, direct, rps, "info -", "req/s"))
        for label in before:
            for c in sorted({1, connections}):
                after = f("pg_attach_detach", "ecsram", 1, c, label.removesuffix("/before"))
                previous = f("pg_attach_detach", "ecsram", 1, c, label)
                name = f"pg attach+detach w1 c{c} {label.removesuffix('/before').strip('/')}: this build vs before"
                out.append(self.ratio(name, after, previous, rps, "info -", "req/s"))
        for label in ["/direct", *delayed]:
            one = f("pg_attach_detach", "ecsram", 1, 1, label)
            many = f("pg_attach_detach", "ecsram", 1, connections, label)
            name = f"pg attach+detach w1 {label.strip('/')}: c{connections} vs c1"
            out.append(self.ratio(name, many, one, rps, "info -", "req/s"))
        for label in ["/direct", *delayed]:
            base = f("pg_attach_detach", "ecsram", 1, connections, label)
            for w in workers[1:]:
                name = f"pg attach+detach {label.strip('/')}: w{w} vs w1"
                out.append(
                    self.ratio(
                        name, f("pg_attach_detach", "ecsram", w, connections, label), base, rps, "info -", "req/s"
                    )
                )
        return out

    def p99_over_p50(self, name: str, m: Measurement | None) -> Ratio:
        if m is None or not m.p50 or m.p99 is None:
            return Ratio(name, None, "<= 10", "not measured", False)
        return Ratio(name, round(m.p99 / m.p50, 3), "<= 10", f"{m.p99:.4g} / {m.p50:.4g} ms", m.clean)


def table(measurements: Sequence[Measurement]) -> str:
    header = "| scenario | system | workers | conns | req/s | p50 ms | p99 ms | p99/p50 | runs | clean |"
    lines = [header, "|" + "---|" * 10]
    for m in measurements:
        if not m.runs:
            if m.status == "failed":
                lines.append(
                    f"| {m.scenario}{m.label} | {m.system} | {m.workers or '-'} | {m.connections} | "
                    f"FAILED: {m.note[:120]} | | | | 0 | NO |"
                )
            continue
        p99_p50 = f"{m.p99 / m.p50:.1f}" if m.p50 and m.p99 else "-"
        errors = "yes" if m.clean else f"NO ({m.errors} errors)"
        lines.append(
            f"| {m.scenario}{m.label} | {m.system} | {m.workers or '-'} | {m.connections} | {m.rps:,.0f} | "
            f"{m.p50:.2f} | {m.p99:.2f} | {p99_p50} | {len(m.runs)} | {errors} |"
        )
    return "\n".join(lines)


def ratio_table(ratios: Sequence[Ratio]) -> str:
    lines = ["| ratio (same run) | value | target | verdict | from |", "|---|---|---|---|---|"]
    for r in ratios:
        value = "-" if r.value is None else f"{r.value:.3g}"
        target = "" if r.target.startswith("info") else r.target
        verdict = "" if r.verdict == "info" else r.verdict
        lines.append(f"| {r.name} | {value} | {target} | {verdict} | {r.detail} |")
    return "\n".join(lines)


def write(out_dir: Path, stamp: str, document: dict[str, Any], markdown: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stamp}.json"
    json_path.write_text(json.dumps(document, indent=2, default=str))
    (out_dir / f"{stamp}.md").write_text(markdown)
    (out_dir / "latest.json").write_text(json.dumps(document, indent=2, default=str))
    (out_dir / "latest.md").write_text(markdown)
    return json_path
