"""``python -m bench run`` — the whole benchmark, one command; ``python -m bench selftest`` — checks.

Results: bench/out/<stamp>.json (every run of every cell) and bench/out/<stamp>.md (the tables),
also copied to bench/out/latest.{json,md}; the tables are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import machine, profiling, report, scale
from bench.runner import Measurement, measurement_from_json
from bench.scenarios import GROUPS, OPT_IN_GROUPS, Bench, Options

OUT = Path(__file__).resolve().parent / "out"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmark and write bench/out/")
    run.add_argument("--quick", action="store_true", help="short runs (3 s, fewer instances): a smoke test")
    run.add_argument("--workers", type=int, default=2, help="N, the multi-worker count (1 is always measured too)")
    run.add_argument("--duration", type=float, default=None, help="seconds per timed run (default 10, quick 3)")
    run.add_argument("--repeats", type=int, default=3, help="timed runs per cell; the median is reported (min 3)")
    run.add_argument("--connections", type=int, default=16, help="keep-alive connections of the load generator")
    run.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    run.add_argument("--wrk-threads", type=int, default=1, help="wrk threads when --generator wrk")
    default_groups = ",".join(g for g in GROUPS if g not in OPT_IN_GROUPS)
    run.add_argument(
        "--only",
        default=default_groups,
        help=f"comma-separated groups out of {', '.join(GROUPS)} (default: all but {', '.join(OPT_IN_GROUPS)})",
    )
    run.add_argument("--pg-delay-ms", type=float, default=0.5, help="pgscale: delay proxy, ms each way")
    run.add_argument(
        "--pg-compare-src", type=Path, default=None, help="pgscale: also measure this src/ (1 worker), e.g. before"
    )
    run.add_argument("--memory-cycles", type=int, default=1_000_000, help="memory: attach+detach cycles")
    run.add_argument("--memory-minutes", type=float, default=60.0, help="memory: stop the cycles after this")
    run.add_argument("--skip", default="", help="comma-separated groups to leave out")
    run.add_argument("--ecsram-src", type=Path, default=None, help="benchmark the ecsram in this src/ directory")
    run.add_argument("--keep-workdir", action="store_true", help="keep the temporary databases and request files")
    commands.add_parser("selftest", help="check the signer against the published vector and the generators")
    again = commands.add_parser("report", help="print the tables of a results file again (and rewrite its .md)")
    again.add_argument("results", type=Path, help="bench/out/<stamp>.json")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace, workdir: Path) -> Options:
    groups = [g for g in args.only.split(",") if g]
    unknown = set(groups) | {g for g in args.skip.split(",") if g}
    unknown -= set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown groups: {', '.join(sorted(unknown))} (choose from {', '.join(GROUPS)})")
    skip = set(args.skip.split(","))
    return Options(
        workdir=workdir,
        workers=args.workers,
        connections=args.connections,
        duration=args.duration or (3.0 if args.quick else 10.0),
        warmup=1.0 if args.quick else 2.0,
        repeats=max(3, args.repeats),
        generator=args.generator,
        lanes=args.wrk_threads,
        instances=500 if args.quick else 2000,
        batch_pool=5_000 if args.quick else 20_000,
        source=args.ecsram_src.resolve() if args.ecsram_src else None,
        groups=tuple(g for g in GROUPS if g in groups and g not in skip),
        pg_delay_ms=args.pg_delay_ms,
        compare_source=args.pg_compare_src.resolve() if args.pg_compare_src else None,
        memory_cycles=args.memory_cycles,
        memory_minutes=args.memory_minutes,
        memory_chunk=10.0 if args.quick else 30.0,
    )


def run(args: argparse.Namespace) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="ecsram-bench-"))
    options = options_from(args, workdir)
    started = time.time()
    facts: dict[str, Any] = {"machine_at_start": machine.describe()}
    if options.source is not None:
        revision = options.source.parent / "REVISION"
        facts["ecsram_source"] = {
            "path": str(options.source),
            "revision": revision.read_text().strip() if revision.exists() else "unknown",
        }
    bench = Bench(options)
    log = bench.log
    log(f"ecsram benchmark {stamp}: groups {', '.join(options.groups)}; workdir {workdir}")
    try:
        if "generators" in options.groups and options.generator == "auto":
            bench.choose_generator()
        log(f"load generator: {bench.settings.generator} ({bench.settings.lanes} thread(s))")
        if {"api", "moto", "imds"} & set(options.groups):
            bench.api_group()
        steps: dict[str, Callable[[], None]] = {
            "floor": bench.floor_group,
            "batch": bench.batch_group,
            "store": bench.store_group,
            "profile": bench.profile_group,
            "log": bench.log_group,
            "trail": bench.trail_group,
            "pgscale": lambda: scale.pgscale_group(bench),
            "memory": lambda: scale.memory_group(bench),
        }
        for group, step in steps.items():
            if group in options.groups:
                step()
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")
    finally:
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    results = report.Results(bench.measurements)
    ratios = results.ratios(options.workers, options.connections)
    pending = [(p.scenario, p.reason) for p in bench.pending]
    markdown = render(stamp, bench.settings.generator, bench.settings.lanes, options, bench.measurements, pending)
    document = {
        "stamp": stamp,
        "command": " ".join(sys.argv),
        "options": {k: str(v) for k, v in vars(options).items()},
        "seconds": round(time.time() - started, 1),
        "generator": {"name": bench.settings.generator, "threads": bench.settings.lanes},
        **facts,
        "machine_at_end": {"load_average": machine.load_average()},
        "py_spy": profiling.py_spy_version(),
        "facts": bench.facts,
        "measurements": [m.to_json() for m in bench.measurements],
        "ratios": [r.to_json() for r in ratios],
        "pending": [{"scenario": p.scenario, "reason": p.reason} for p in bench.pending],
    }
    path = report.write(OUT, stamp, document, markdown)
    print("\n" + markdown)
    print(f"raw results: {path}")
    return 0


def render(
    stamp: str,
    generator: str,
    threads: int,
    options: Options,
    measurements: list[Measurement],
    pending: list[tuple[str, str]],
) -> str:
    ratios = report.Results(measurements).ratios(options.workers, options.connections)
    lines = "\n".join(f"- {scenario}: {reason}" for scenario, reason in pending) or "- none"
    return (
        f"# ecsram benchmark {stamp}\n\n"
        f"generator: {generator} ({threads} thread(s)), {options.connections} connections, "
        f"{options.duration:g} s x {options.repeats} runs per cell (median)\n\n"
        f"{report.table(measurements)}\n\n{report.ratio_table(ratios)}\n\npending / not measured:\n{lines}\n"
    )


def rerender(path: Path) -> int:
    data = json.loads(path.read_text())
    opts = data["options"]
    options = Options(
        workdir=Path(opts["workdir"]),
        workers=int(opts["workers"]),
        connections=int(opts["connections"]),
        duration=float(opts["duration"]),
        repeats=int(opts["repeats"]),
    )
    measurements = [measurement_from_json(m) for m in data["measurements"]]
    pending = [(p["scenario"], p["reason"]) for p in data["pending"]]
    markdown = render(
        data["stamp"], data["generator"]["name"], data["generator"]["threads"], options, measurements, pending
    )
    path.with_suffix(".md").write_text(markdown)
    print(markdown)
    return 0


def selftest() -> int:
    """Checks that need no judgement of speed: the signer's published vector, and a generator run."""
    from bench.selftest import main as run_selftest

    return run_selftest()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "run":
        # SIGTERM (and SIGINT, which a shell ignores in a background job) stop the run the way
        # Ctrl-C does: servers stopped, temporary databases dropped, what was measured written.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        return run(args)
    if args.command == "report":
        return rerender(args.results)
    return selftest()


if __name__ == "__main__":
    sys.exit(main())
