"""Beyond one process: PostgreSQL with 1, 2 and 4 workers, direct and behind a slower round trip,
and the memory a worker holds after a large store and a long run (groups ``pgscale``, ``memory``).

pgscale: every ecsram server gets a fresh database of its own on the machine's PostgreSQL
(created here, dropped at the end), reached directly or through the delay proxy
(``bench/delayproxy.py``), and runs attach+detach cycles beside a hello baseline with the same
worker count. The proxy counts the chunks it forwards, so the harness also reports how many
database round trips one request costs.

memory: one worker on a SQLite store bulk-loaded with 1,000,000 instances; its RSS is sampled at
start, after the store has been walked, and along a long run of attach+detach cycles (up to
``--memory-cycles``, or as many as ``--memory-minutes`` allow), with a straight-line fit of the
second half of the curve to say what a longer run would add.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import bulkload, servers
from bench.ecsapi import REGION, ApiCallError, EcsramClient
from bench.runner import LoadSettings, Measurement, Runner
from bench.signer import V1Signer
from bench.workloads import describe_by_instance

if TYPE_CHECKING:
    from bench.scenarios import Bench

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DB = "postgres"
DB_PREFIX = "ecsram_bench_"
SCALE_WORKERS = (1, 2, 4)


# --- PostgreSQL -----------------------------------------------------------------------------------


def _admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True, connect_timeout=5
    )


def postgres_available() -> str | None:
    """None if the machine's PostgreSQL answers, else why not."""
    try:
        with contextlib.closing(_admin()) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}): {str(exc).strip()[:200]}"
    return None


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A fresh database of our own (``ecsram_bench_<pid>_<name>``), dropped when the block ends."""
    database = f"{DB_PREFIX}{os.getpid()}_{name}"
    with contextlib.closing(_admin()) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
        connection.execute(f'CREATE DATABASE "{database}"')
    try:
        yield database
    finally:
        with contextlib.closing(_admin()) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def round_trip_ms(port: int, database: str = PG_ADMIN_DB, samples: int = 400) -> dict[str, float]:
    """``SELECT 1`` round trips on one connection: median and p90, in milliseconds."""
    import psycopg

    with contextlib.closing(
        psycopg.connect(host=PG_HOST, port=port, user=PG_USER, dbname=database, autocommit=True)
    ) as connection:
        for _ in range(20):
            connection.execute("SELECT 1").fetchone()
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            connection.execute("SELECT 1").fetchone()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 3), "p90_ms": round(times[int(len(times) * 0.9)], 3)}


def proxy_counts(proxy: servers.Server) -> dict[str, int]:
    """Ask the delay proxy for its counters (SIGUSR1 makes it print a ``counts`` line)."""
    before = len(proxy.output)
    proxy.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in proxy.output[before:]:
            if line.startswith("counts "):
                return {k: int(v) for k, v in (pair.split("=") for pair in line.split()[1:])}
        time.sleep(0.02)
    raise RuntimeError("the delay proxy did not report its counters")


def round_trips_per_request(proxy: servers.Server, port: int, signer: V1Signer, ids: list[str], role: str) -> float:
    """Sequential attach+detach cycles through a proxied server: database round trips per request
    (with whatever the server does beside them in that time: the fault-rule refresh, nonce pruning)."""
    client = EcsramClient("127.0.0.1", port, signer)
    try:
        cycles = 0
        before = proxy_counts(proxy)
        for instance in ids:
            params = {"RegionId": REGION, "RamRoleName": role, "InstanceIds": f'["{instance}"]'}
            client.call("AttachInstanceRamRole", params)
            client.call("DetachInstanceRamRole", params)
            cycles += 1
        after = proxy_counts(proxy)
    finally:
        client.close()
    return (after["round_trips"] - before["round_trips"]) / (2 * cycles)


def pgscale_group(bench: Bench) -> None:
    """attach+detach on PostgreSQL, 1/2/4 workers, direct and through the delay proxy, with hello."""
    from bench.scenarios import ROLE, hello_workload

    options = bench.options
    delay = options.pg_delay_ms
    bench.log(f"== pgscale: attach+detach on PostgreSQL, workers {SCALE_WORKERS}, direct and +{delay:g} ms each way")
    missing = postgres_available()
    if missing:
        bench.pend("pgscale", missing)
        return
    first = len(bench.measurements)
    facts: dict[str, Any] = {"delay_ms_each_way": delay, "workers": list(SCALE_WORKERS)}
    bench.facts["pgscale"] = facts
    with contextlib.ExitStack() as stack:
        proxy = servers.start_delay_proxy(delay, f"{PG_HOST}:{PG_PORT}")
        stack.callback(proxy.stop)
        facts["select1_direct"] = round_trip_ms(PG_PORT)
        facts["select1_proxy"] = round_trip_ms(proxy.port)
        bench.log(f"  SELECT 1 round trip: direct {facts['select1_direct']}, proxy {facts['select1_proxy']}")
        pool = bench.hello_pool()
        paths = (("direct", PG_PORT), ("proxy", proxy.port))
        proxied_1w: dict[str, tuple[int, list[str]]] = {}
        for workers in SCALE_WORKERS:
            hello = bench.hello(stack, workers)
            bench.cell("hello", "hello", workers, hello.port, hello_workload(pool), label="/pg")
            # The build under test, and (1 worker, when --pg-compare-src is given) another one beside it.
            sources: list[tuple[str, Any]] = [("", options.source)]
            if workers == 1 and options.compare_source is not None:
                sources.append(("/before", options.compare_source))
            variants = [(path, port, tag, src) for tag, src in sources for path, port in paths]
            for path, port, tag, source in variants:
                database = stack.enter_context(scratch_database(f"w{workers}_{path}{tag.replace('/', '_')}"))
                url = f"postgresql://{PG_USER}@{PG_HOST}:{port}/{database}"
                server = servers.start_ecsram(url, workers, source)
                stack.callback(server.stop)
                setup = bench.setup_ecsram(server, options.instances)
                if setup.missing:
                    bench.pend(f"pg_attach_detach w{workers} {path}{tag}", str(setup.missing))
                    continue
                label = ("/direct" if path == "direct" else f"/delay{delay:g}ms") + tag
                connection_counts = sorted({1, options.connections}) if workers == 1 else [options.connections]
                for connections in connection_counts:
                    cycles = bench.cycles(server.port, setup.cycle_ids)
                    bench.cell(
                        "pg_attach_detach", "ecsram", workers, server.port, cycles, connections=connections, label=label
                    )
                if workers == 1 and path == "proxy":
                    proxied_1w[tag] = (server.port, setup.cycle_ids[:50])
        for tag, (port, ids) in proxied_1w.items():
            name = f"round_trips_per_request{tag.replace('/', '_')}"
            try:
                facts[name] = round(round_trips_per_request(proxy, port, bench.signer, ids, ROLE), 2)
                bench.log(f"  database round trips per attach or detach{tag}: {facts[name]}")
            except (RuntimeError, ApiCallError) as exc:
                facts[name] = f"not measured: {exc}"
        if options.compare_source is not None:
            facts["compare_source"] = str(options.compare_source)
        bench.runner().measure(bench.measurements[first:])
        facts["select1_direct_at_end"] = round_trip_ms(PG_PORT)
        facts["select1_proxy_at_end"] = round_trip_ms(proxy.port)
        bench.log(
            f"  SELECT 1 at the end: direct {facts['select1_direct_at_end']}, proxy {facts['select1_proxy_at_end']}"
        )
    facts["cells"] = [
        {"key": m.key, "rps": m.rps, "p50_ms": m.p50, "p99_ms": m.p99, "clean": m.clean}
        for m in bench.measurements[first:]
    ]


# --- memory ---------------------------------------------------------------------------------------


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


def memory_group(bench: Bench) -> None:
    """RSS of one worker: on a 1,000,000-instance SQLite store, then along a long attach+detach run."""
    from bench.scenarios import ROLE, attach_setup

    options = bench.options
    bench.log(f"== memory: RSS of 1 worker, {options.big_store} instances, up to {options.memory_cycles} cycles")
    facts: dict[str, Any] = {"instances": options.big_store, "target_cycles": options.memory_cycles}
    bench.facts["memory"] = facts
    samples: list[dict[str, Any]] = []
    facts["samples"] = samples
    url = bench.database_url("memory")
    bulkload.prepare_database(url, options.source)
    facts["bulk_load_seconds"] = round(bulkload.load_instances(url, options.big_store), 1)
    with contextlib.ExitStack() as stack:
        server = bench.ecsram(stack, url, 1)
        pid = server.worker_pids()[0]
        started = time.monotonic()

        def sample(phase: str, cycles: int) -> None:
            row = {"phase": phase, "cycles": cycles, "seconds": round(time.monotonic() - started, 1), **rss_kib(pid)}
            samples.append(row)
            bench.log(f"  rss {row}")

        sample("started", 0)
        step = max(1, options.big_store // 20_000)
        spread = [bulkload.instance_id(i * step) for i in range(min(20_000, options.big_store))]
        client = EcsramClient("127.0.0.1", server.port, bench.signer)
        try:
            client.create_ecs_role(ROLE)
            attach_setup(client, spread[-100:])
        finally:
            client.close()
        # A short Describe load on the bound instances, then the long attach+detach run.
        walk = describe_by_instance(bench.signer, spread[-100:])
        runner = Runner(
            LoadSettings(bench.settings.generator, bench.settings.lanes, options.memory_chunk, 2.0, 1),
            options.workdir,
            bench.log,
        )
        m = Measurement("memory_describe", "ecsram", 1, options.connections, server.port, walk)
        runner.prepare(m)
        runner.run_round(m)
        sample("after Describe load", 0)
        cycles_done = 0
        deadline = started + options.memory_minutes * 60
        cycle_ids = spread[:-100]
        cycles = bench.cycles(server.port, cycle_ids)
        m = Measurement("memory_attach_detach", "ecsram", 1, options.connections, server.port, cycles)
        runner.prepare(m)
        while cycles_done < options.memory_cycles and time.monotonic() < deadline:
            before = len(m.runs)
            runner.run_round(m)
            if len(m.runs) == before:
                break
            run = m.runs[-1]
            if not run.ok:
                facts["error"] = run.to_json()
                break
            cycles_done += run.completed // 2
            sample("cycles", cycles_done)
    facts["cycles_done"] = cycles_done
    facts["runs_clean"] = all(run.ok for run in m.runs)
    facts["cycles_per_s_median"] = round(statistics.median(run.rps / 2 for run in m.runs), 1) if m.runs else None
    facts["fit"] = fit(samples)
    bench.log(f"  memory: {facts['fit']}")


def fit(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Least-squares slope of RSS over cycles on the second half of the cycle samples (KiB per 1M)."""
    points = [(s["cycles"], s["VmRSS"]) for s in samples if s["phase"] == "cycles"]
    half = points[len(points) // 2 :]
    if len(half) < 2:
        return {"points": len(points)}
    mean_x = statistics.fmean(x for x, _ in half)
    mean_y = statistics.fmean(y for _, y in half)
    sxx = sum((x - mean_x) ** 2 for x, _ in half)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in half) / sxx if sxx else 0.0
    last_x, last_y = points[-1]
    return {
        "points": len(points),
        "fitted_on": [half[0][0], half[-1][0]],
        "kib_per_million_cycles": round(slope * 1_000_000, 1),
        "last_cycles": last_x,
        "last_rss_kib": last_y,
        "rss_kib_at_1M_extrapolated": round(last_y + slope * max(0, 1_000_000 - last_x)),
    }


def round_trips_command(sources: list[Path | None], cycles: int = 100) -> dict[str, float]:
    """``python -m bench.scale round-trips [SRC ...]``: database round trips per attach or detach,
    through the delay proxy (0.5 ms each way), for the installed build and each ``src/`` given."""
    from bench.ecsapi import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    signer = V1Signer(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    found: dict[str, float] = {}
    proxy = servers.start_delay_proxy(0.5, f"{PG_HOST}:{PG_PORT}")
    try:
        for number, source in enumerate(sources):
            with scratch_database(f"rt{number}") as database:
                url = f"postgresql://{PG_USER}@{PG_HOST}:{proxy.port}/{database}"
                server = servers.start_ecsram(url, 1, source)
                try:
                    client = EcsramClient("127.0.0.1", server.port, signer)
                    client.create_ecs_role("RoundTrips")
                    ids = client.run_instances(cycles)
                    client.close()
                    measured = round_trips_per_request(proxy, server.port, signer, ids, "RoundTrips")
                    found[str(source or "installed")] = round(measured, 2)
                finally:
                    server.stop()
    finally:
        proxy.stop()
    return found


if __name__ == "__main__":
    import json
    import sys

    if sys.argv[1:2] != ["round-trips"]:
        raise SystemExit("usage: python -m bench.scale round-trips [OTHER_SRC ...]")
    print(json.dumps(round_trips_command([None, *(Path(p).resolve() for p in sys.argv[2:])]), indent=1))
