"""The scenarios: which servers to start, how to set them up, what to measure side by side.

Each group starts its servers (fresh SQLite files), sets them up through the API (or bulk-loads
the store), and measures its cells interleaved round by round (see runner.py). An operation the
server does not implement (InvalidAction.NotFound, UnsupportedOperation) turns the cells that
need it into "pending" entries with the reason, instead of numbers.
"""

from __future__ import annotations

import contextlib
import statistics
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import bulkload, profiling, servers
from bench.ecsapi import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    REGION,
    ApiCallError,
    EcsramClient,
    detach_leftovers,
    instance_ids_param,
)
from bench.floor import floor_bound_ids, floor_instance_ids
from bench.motoenv import MotoClient, ensure_moto
from bench.runner import LoadSettings, Measurement, Runner
from bench.signer import V1Signer
from bench.workloads import (
    ITEM_FAILED,
    AttachOnly,
    InstancePool,
    MotoDescribe,
    RepeatablePool,
    Workload,
    attach_detach_cycles,
    describe_by_instance,
    describe_by_role,
    describe_regions,
    metadata_credentials,
    moto_cycles,
)

ROLE = "BenchEcsRole"
MOTO_PROFILE = "bench-profile"
BOUND = 100  # instances bound to the role for the Describe and metadata scenarios
GROUPS = (
    "generators",
    "api",
    "moto",
    "imds",
    "floor",
    "batch",
    "store",
    "profile",
    "log",
    "trail",
    "pgscale",
    "memory",
)
# Run only when named in --only: pgscale needs the machine's PostgreSQL, memory runs for a long time.
OPT_IN_GROUPS = ("pgscale", "memory")


@dataclass
class Options:
    workdir: Path
    workers: int = 2
    connections: int = 16
    duration: float = 10.0
    warmup: float = 2.0
    repeats: int = 3
    generator: str = "auto"  # "auto" (measure, then choose), "wrk" or "python"
    lanes: int = 1
    instances: int = 2000  # instances created through the API for attach/detach cycles
    batch_pool: int = 20_000  # unbound instances bulk-loaded for attach-only runs (grown on demand)
    big_store: int = 1_000_000
    small_store: int = 1_000
    source: Path | None = None  # benchmark another checkout's src/ instead of the installed ecsram
    groups: tuple[str, ...] = GROUPS
    pg_delay_ms: float = 0.5  # pgscale: the delay proxy's delay, each way
    compare_source: Path | None = None  # pgscale: another src/ measured beside this one (1 worker)
    memory_cycles: int = 1_000_000  # memory: attach+detach cycles to run ...
    memory_minutes: float = 60.0  # ... or fewer, if this time runs out first
    memory_chunk: float = 30.0  # memory: seconds of load between two RSS samples

    def worker_counts(self) -> list[int]:
        return sorted({1, self.workers})


@dataclass
class Pending:
    scenario: str
    reason: str


@dataclass
class EcsramSetup:
    """What the set-up of one ecsram server made, and which steps failed (step -> reason)."""

    cycle_ids: list[str] = field(default_factory=list)
    bound_ids: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)


class Bench:
    def __init__(self, options: Options, log: Callable[[str], None] = print) -> None:
        self.options = options
        self.log = log
        self.signer = V1Signer(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        self.settings = LoadSettings(
            generator="wrk" if options.generator == "auto" else options.generator,
            lanes=options.lanes,
            duration=options.duration,
            warmup=options.warmup,
            repeats=options.repeats,
        )
        self.measurements: list[Measurement] = []
        self.pending: list[Pending] = []
        self.facts: dict[str, Any] = {}
        self._db_counter = 0

    # --- helpers ----------------------------------------------------------------------------------

    def runner(self) -> Runner:
        return Runner(self.settings, self.options.workdir, self.log)

    def database_url(self, name: str) -> str:
        self._db_counter += 1
        return f"sqlite:///{self.options.workdir}/{self._db_counter:02d}-{name}.db"

    def ecsram(
        self, stack: contextlib.ExitStack, database_url: str, workers: int, extra_args: tuple[str, ...] = ()
    ) -> servers.Server:
        """Start ecsram; the stack stops it however the group ends."""
        server = servers.start_ecsram(database_url, workers, self.options.source, extra_args)
        stack.callback(server.stop)
        return server

    def hello(self, stack: contextlib.ExitStack, workers: int) -> servers.Server:
        server = servers.start_hello(workers)
        stack.callback(server.stop)
        return server

    def cell(
        self, scenario: str, system: str, workers: int | None, port: int, workload: Workload, **kw: Any
    ) -> Measurement:
        kw.setdefault("connections", self.options.connections)
        m = Measurement(scenario, system, workers, port=port, workload=workload, **kw)
        self.measurements.append(m)
        return m

    def pend(self, scenario: str, reason: str) -> None:
        self.log(f"  pending: {scenario}: {reason}")
        self.pending.append(Pending(scenario, reason))

    def hello_pool(self) -> list[str]:
        """The hello gets the same kind of request line as ecsram (a signed DescribeRegions); it ignores it."""
        return describe_regions(self.signer).lanes(1, 4000)[0].lines

    def recycling_pool(self, client: EcsramClient, database_url: str, initial: int) -> InstancePool:
        """Bulk-loaded unbound instances; after each run the used ones are detached through the API."""
        loaded = [0]

        def refill(count: int) -> list[str]:
            count = max(count, 5_000)
            seconds = bulkload.load_instances(database_url, count, first=loaded[0])
            self.log(f"    bulk-loaded {count} more unbound instances in {seconds:.1f}s")
            ids = [bulkload.instance_id(n) for n in range(loaded[0], loaded[0] + count)]
            loaded[0] += count
            return ids

        def recycle(ids: list[str]) -> None:
            for start in range(0, len(ids), 100):
                chunk = ids[start : start + 100]
                client.call("DetachInstanceRamRole", {"RegionId": REGION, "InstanceIds": instance_ids_param(chunk)})

        pool = InstancePool(refill, recycle)
        pool.available.extend(refill(initial))
        return pool

    # --- set-up of an ecsram server through its API -----------------------------------------------

    def setup_ecsram(self, server: servers.Server, instances: int) -> EcsramSetup:
        setup = EcsramSetup()
        client = EcsramClient("127.0.0.1", server.port, self.signer)
        steps: list[tuple[str, Callable[[], object]]] = [
            ("CreateRole", lambda: client.create_ecs_role(ROLE)),
            ("RunInstances", lambda: setup.cycle_ids.extend(client.run_instances(instances + BOUND))),
            ("AttachInstanceRamRole", lambda: attach_setup(client, setup.cycle_ids[-BOUND:])),
            ("DescribeInstanceRamRole", lambda: client.call("DescribeInstanceRamRole", describe_params())),
        ]
        try:
            for step, action in steps:
                try:
                    action()
                except ApiCallError as exc:
                    setup.missing[step] = f"{exc.code} (HTTP {exc.status})"
                    if step != "DescribeInstanceRamRole":
                        break
        finally:
            client.close()
        if len(setup.cycle_ids) > BOUND:
            setup.bound_ids = setup.cycle_ids[-BOUND:]
            del setup.cycle_ids[-BOUND:]
        return setup

    # --- groups -------------------------------------------------------------------------------------

    def choose_generator(self) -> None:
        """Measure wrk (1 and 2 threads) and the asyncio client against the hello route and
        DescribeRegions with N workers; keep the one that gets the most out of the servers."""
        self.log("== generators: which load generator loads the server harder")
        candidates = [("wrk", 1), ("wrk", 2), ("python", 1)]
        workers = self.options.workers
        with contextlib.ExitStack() as stack:
            hello = self.hello(stack, workers)
            ecsram = self.ecsram(stack, self.database_url("generators"), workers)
            pool = self.hello_pool()
            cells = []
            for generator, lanes in candidates:
                common = {"generator": generator, "lanes": lanes, "label": f"/{generator}-t{lanes}"}
                regions = describe_regions(self.signer)
                cells.append(
                    (
                        self.cell("gen_hello", "hello", workers, hello.port, hello_workload(pool), **common),
                        self.cell("gen_DescribeRegions", "ecsram", workers, ecsram.port, regions, **common),
                    )
                )
            self.runner().measure([m for pair in cells for m in pair])
        self.facts["generator_cells"] = [
            {"key": m.key, "rps": m.rps, "p50_ms": m.p50, "p99_ms": m.p99, "clean": m.clean}
            for pair in cells
            for m in pair
        ]
        usable = [i for i, pair in enumerate(cells) if all(m.clean for m in pair)]
        if not usable:
            self.log("  no generator ran cleanly; keeping wrk")
            return
        # The candidates ran interleaved: in each round, each one's req/s as a share of that round's
        # best, on hello and on DescribeRegions; the score is the median over rounds of the mean.
        rounds = min(len(m.runs) for i in usable for m in cells[i])
        scores: dict[int, list[float]] = {i: [] for i in usable}
        for r in range(rounds):
            best = [max(cells[i][side].runs[r].rps for i in usable) for side in (0, 1)]
            for i in usable:
                shares = [cells[i][side].runs[r].rps / best[side] for side in (0, 1)]
                scores[i].append(sum(shares) / 2)
        score = {i: statistics.median(values) for i, values in scores.items()}
        chosen = max(score, key=lambda i: score[i])
        generator, lanes = candidates[chosen]
        self.settings = LoadSettings(
            generator, lanes, self.settings.duration, self.settings.warmup, self.settings.repeats
        )
        self.facts["generator_choice"] = {
            "chosen": {"generator": generator, "threads": lanes},
            "rule": "median over rounds of the mean (hello, DescribeRegions) share of the round's best req/s",
            "scores": {f"{candidates[i][0]}-t{candidates[i][1]}": round(score[i], 3) for i in score},
        }
        self.log(f"  chosen: {generator} with {lanes} thread(s)")

    def api_group(self) -> None:
        """hello, DescribeRegions, attach+detach, the Describes, the metadata fetch; 1 and N workers; moto."""
        self.log("== api: hello, DescribeRegions, attach+detach, Describe, metadata (+ moto baseline)")
        groups = self.options.groups
        first = len(self.measurements)
        with contextlib.ExitStack() as stack:
            pool = self.hello_pool()
            for workers in self.options.worker_counts():
                hello = self.hello(stack, workers)
                self.cell("hello", "hello", workers, hello.port, hello_workload(pool))
                ecsram = self.ecsram(stack, self.database_url(f"api-w{workers}"), workers)
                self.cell("DescribeRegions", "ecsram", workers, ecsram.port, describe_regions(self.signer))
                setup = self.setup_ecsram(ecsram, self.options.instances)
                self.facts[f"api_setup_w{workers}"] = {
                    "cycle_instances": len(setup.cycle_ids),
                    "missing": setup.missing,
                }
                self.ecsram_cells(workers, ecsram.port, setup)
            if "moto" in groups:
                self.moto_cells(stack)
            self.runner().measure(self.measurements[first:])

    def cycles(self, port: int, cycle_ids: list[str]) -> Workload:
        """attach+detach cycles, with the untimed clean-up of leftovers after each run."""
        members = set(cycle_ids)

        def cleanup() -> None:
            client = EcsramClient("127.0.0.1", port, self.signer)
            try:
                detach_leftovers(client, ROLE, members)
            finally:
                client.close()

        return attach_detach_cycles(self.signer, ROLE, cycle_ids, cleanup)

    def ecsram_cells(self, workers: int, port: int, setup: EcsramSetup) -> None:
        base = ("CreateRole", "RunInstances", "AttachInstanceRamRole")
        needs: dict[str, tuple[tuple[str, ...], Callable[[], Workload]]] = {
            "attach_detach": (base, lambda: self.cycles(port, setup.cycle_ids)),
            "describe_by_instance": (
                (*base, "DescribeInstanceRamRole"),
                lambda: describe_by_instance(self.signer, setup.bound_ids),
            ),
            "describe_by_role": ((*base, "DescribeInstanceRamRole"), lambda: describe_by_role(self.signer, ROLE)),
        }
        if "imds" in self.options.groups:
            needs["imds_credentials"] = (base, lambda: metadata_credentials(ROLE, setup.bound_ids))
        for scenario, (steps, make) in needs.items():
            missing = [f"{step}: {setup.missing[step]}" for step in steps if step in setup.missing]
            if missing:
                self.pend(f"{scenario} w{workers}", "; ".join(missing))
                continue
            self.cell(scenario, "ecsram", workers, port, make())

    def moto_cells(self, stack: contextlib.ExitStack) -> None:
        moto = servers.start_moto(ensure_moto())
        stack.callback(moto.stop)
        client = MotoClient(moto.port)
        try:
            client.create_instance_profile(MOTO_PROFILE)
            ids = client.run_instances(self.options.instances + BOUND)
            for instance in ids[-BOUND:]:
                client.associate(instance, MOTO_PROFILE)
        finally:
            client.close()
        members = set(ids[:-BOUND])

        def cleanup() -> None:
            moto_client = MotoClient(moto.port)
            try:
                moto_client.disassociate_leftovers(members)
            finally:
                moto_client.close()

        cycles = moto_cycles(moto.host, MOTO_PROFILE, ids[:-BOUND], cleanup)
        self.cell("attach_detach", "moto", None, moto.port, cycles)
        describe = MotoDescribe("describe", host=moto.host, instance_ids=ids[-BOUND:])
        self.cell("describe_by_instance", "moto", None, moto.port, describe)

    def log_group(self) -> None:
        """attach+detach with the request log off (the default level) and on (info, to a file),
        1 worker, interleaved round by round: what one log line per call costs."""
        self.log("== log: attach+detach with the request log off and on")
        first = len(self.measurements)
        log_file = self.options.workdir / "requests.log"
        variants = {"log_off": (), "log_on": ("--log-level", "info", "--log-file", str(log_file))}
        with contextlib.ExitStack() as stack:
            for name, extra in variants.items():
                server = self.ecsram(stack, self.database_url(name), 1, extra)
                setup = self.setup_ecsram(server, self.options.instances)
                if setup.missing:
                    self.pend(f"{name}_attach_detach", "; ".join(f"{k}: {v}" for k, v in setup.missing.items()))
                    return
                self.cell(f"{name}_attach_detach", "ecsram", 1, server.port, self.cycles(server.port, setup.cycle_ids))
            self.runner().measure(self.measurements[first:])
            off, on = self.measurements[first:]
        lines = sum(1 for _ in log_file.open()) if log_file.exists() else 0
        ratio = on.rps / off.rps if on.rps and off.rps else None
        self.facts["request_log"] = {
            "off_rps": off.rps,
            "on_rps": on.rps,
            "on_vs_off": round(ratio, 3) if ratio else None,
            "off_p50_ms": off.p50,
            "on_p50_ms": on.p50,
            "off_p99_ms": off.p99,
            "on_p99_ms": on.p99,
            "log_lines_written": lines,
            "clean": off.clean and on.clean,
        }
        self.log(f"  request log on vs off: {self.facts['request_log']}")

    def trail_group(self) -> None:
        """attach+detach with the audit trail off (``--no-trail``) and on (``--trail``, the default), 1 worker,
        interleaved round by round: what one trail event per call costs."""
        self.log("== trail: attach+detach with the audit trail off and on")
        first = len(self.measurements)
        variants = {"trail_off": ("--no-trail",), "trail_on": ("--trail",)}
        with contextlib.ExitStack() as stack:
            for name, extra in variants.items():
                server = self.ecsram(stack, self.database_url(name), 1, extra)
                setup = self.setup_ecsram(server, self.options.instances)
                if setup.missing:
                    self.pend(f"{name}_attach_detach", "; ".join(f"{k}: {v}" for k, v in setup.missing.items()))
                    return
                self.cell(f"{name}_attach_detach", "ecsram", 1, server.port, self.cycles(server.port, setup.cycle_ids))
            self.runner().measure(self.measurements[first:])
            off, on = self.measurements[first:]
        # Round by round (the two cells ran back to back in each round): the median of those ratios.
        rounds = sorted(b.rps / a.rps for a, b in zip(off.runs, on.runs, strict=False) if a.rps and b.rps)
        self.facts["trail"] = {
            "off_rps": off.rps,
            "on_rps": on.rps,
            "on_vs_off_median_of_rounds": round(rounds[len(rounds) // 2], 3) if rounds else None,
            "per_round_on_vs_off": [round(r, 3) for r in rounds],
            "off_p50_ms": off.p50,
            "on_p50_ms": on.p50,
            "off_p99_ms": off.p99,
            "on_p99_ms": on.p99,
            "clean": off.clean and on.clean,
        }
        self.log(f"  trail on vs off: {self.facts['trail']}")

    def floor_group(self) -> None:
        """attach+detach, Describe by instance and the metadata fetch on ecsram beside the same
        requests on ``bench.floor`` (the least work each needs, in Python), the hello route and the
        bare protocol hello, 1 worker, interleaved round by round: how far ecsram is from its
        targets, split into what any Python server with a durable store pays and what is ecsram's own."""
        self.log("== floor: hello, protocol hello, the floor's and ecsram's attach+detach, Describe, metadata fetch")
        first = len(self.measurements)
        with contextlib.ExitStack() as stack:
            pool = self.hello_pool()
            hello = self.hello(stack, 1)
            self.cell("hello", "hello", 1, hello.port, hello_workload(pool), label="/floor")
            bare = servers.start_protocol_hello()
            stack.callback(bare.stop)
            self.cell("hello", "protocol_hello", 1, bare.port, hello_workload(pool), label="/floor")
            floor = servers.start_floor(self.options.instances)
            stack.callback(floor.stop)

            def reset() -> None:
                with urllib.request.urlopen(f"{floor.url}/_floor/reset", timeout=30) as answer:
                    answer.read()

            cycles = attach_detach_cycles(self.signer, ROLE, floor_instance_ids(self.options.instances), reset)
            self.cell("attach_detach", "floor", 1, floor.port, cycles, label="/floor")
            bound = floor_bound_ids()
            self.cell(
                "describe_by_instance", "floor", 1, floor.port, describe_by_instance(self.signer, bound), label="/floor"
            )
            self.cell("imds_credentials", "floor", 1, floor.port, metadata_credentials(ROLE, bound), label="/floor")
            ecsram = self.ecsram(stack, self.database_url("floor"), 1)
            setup = self.setup_ecsram(ecsram, self.options.instances)
            if setup.missing:
                self.pend("floor ecsram cells", "; ".join(f"{k}: {v}" for k, v in setup.missing.items()))
            else:
                workloads = {
                    "attach_detach": self.cycles(ecsram.port, setup.cycle_ids),
                    "describe_by_instance": describe_by_instance(self.signer, setup.bound_ids),
                    "imds_credentials": metadata_credentials(ROLE, setup.bound_ids),
                }
                for scenario, workload in workloads.items():
                    self.cell(scenario, "ecsram", 1, ecsram.port, workload, label="/floor")
            self.runner().measure(self.measurements[first:])
            # Where the floor's own time goes, for the same split of the profile ecsram's has.
            profile = Measurement("profile_floor", "floor", 1, self.options.connections, floor.port, cycles)
            self.facts.setdefault("profiles", {})["floor"] = self.profile(profile, floor)

    def batch_group(self) -> None:
        """One AttachInstanceRamRole of 100 unbound instances vs single-instance ones (attach only)."""
        self.log("== batch: 100-instance attach vs single attaches")
        url = self.database_url("batch")
        bulkload.prepare_database(url, self.options.source)
        first = len(self.measurements)
        with contextlib.ExitStack() as stack:
            started = {workers: self.ecsram(stack, url, workers) for workers in self.options.worker_counts()}
            client = EcsramClient("127.0.0.1", started[1].port, self.signer)
            stack.callback(client.close)
            try:
                client.create_ecs_role(ROLE)
                pool = self.recycling_pool(client, url, self.options.batch_pool)
                attach_setup(client, pool.take(100))
                pool.give_back()
            except ApiCallError as exc:
                self.pend("attach_batch100 / attach_single", f"{exc.action}: {exc.code} (HTTP {exc.status})")
                return
            for workers, server in started.items():
                for connections in sorted({1, self.options.connections}):
                    if connections == 1 and workers != 1:
                        continue  # one connection keeps at most one worker busy
                    for batch in (1, 100):
                        name = "attach_single" if batch == 1 else "attach_batch100"
                        workload = AttachOnly(
                            name, fail_marker=ITEM_FAILED, signer=self.signer, role=ROLE, pool=pool, batch=batch
                        )
                        self.cell(name, "ecsram", workers, server.port, workload, connections=connections)
            self.runner().measure(self.measurements[first:])
            self.facts["batch_store_instances"] = pool.high_water

    def store_group(self) -> None:
        """attach+detach and Describe latency at 1,000 and 1,000,000 bulk-loaded instances, one connection."""
        self.log("== store: latency at 1,000 vs 1,000,000 instances")
        sizes = {"1k": self.options.small_store, "1M": self.options.big_store}
        first = len(self.measurements)
        with contextlib.ExitStack() as stack:
            for name, size in sizes.items():
                url = self.database_url(f"store-{name}")
                bulkload.prepare_database(url, self.options.source)
                seconds = bulkload.load_instances(url, size)
                self.facts[f"bulk_load_{name}"] = {"instances": size, "seconds": round(seconds, 2)}
                self.log(f"  bulk-loaded {size} instances in {seconds:.1f}s")
                server = self.ecsram(stack, url, 1)
                # 1,000 instances spread over the whole key range: 900 for cycles, 100 bound for Describe.
                step = max(1, size // 1000)
                spread = [bulkload.instance_id(i * step) for i in range(min(1000, size))]
                cycle_ids, bound = spread[:-BOUND], spread[-BOUND:]
                client = EcsramClient("127.0.0.1", server.port, self.signer)
                try:
                    client.create_ecs_role(ROLE)
                    attach_setup(client, bound)
                except ApiCallError as exc:
                    self.pend(f"store {name}", f"{exc.action}: {exc.code} (HTTP {exc.status})")
                    return
                finally:
                    client.close()
                common = {"connections": 1, "label": f"/{name}"}
                cycles = self.cycles(server.port, cycle_ids)
                self.cell("store_attach_detach", "ecsram", 1, server.port, cycles, **common)
                describe = describe_by_instance(self.signer, bound)
                self.cell("store_describe_by_instance", "ecsram", 1, server.port, describe, **common)
            self.runner().measure(self.measurements[first:])

    def profile_group(self) -> None:
        """py-spy on the worker of a 1-worker ecsram under attach+detach load: on a small store made
        through the API (16 connections), and on a 1,000,000-instance store (1 connection); and
        under the metadata credentials fetch (small store, 16 connections)."""
        self.log("== profile: where AttachInstanceRamRole / DetachInstanceRamRole spend their time (py-spy)")
        self.facts["profiles"] = {}
        self.metadata_profile()
        for name in ("small", "1M"):
            with contextlib.ExitStack() as stack:
                url = self.database_url(f"profile-{name}")
                if name == "1M":
                    bulkload.prepare_database(url, self.options.source)
                    bulkload.load_instances(url, self.options.big_store)
                server = self.ecsram(stack, url, 1)
                if name == "1M":
                    step = self.options.big_store // 1000
                    cycle_ids = [bulkload.instance_id(i * step) for i in range(1000)]
                    client = EcsramClient("127.0.0.1", server.port, self.signer)
                    stack.callback(client.close)
                    missing = {}
                    try:
                        client.create_ecs_role(ROLE)
                    except ApiCallError as exc:
                        missing["CreateRole"] = exc.code
                    connections = 1
                else:
                    setup = self.setup_ecsram(server, self.options.instances)
                    cycle_ids, missing, connections = setup.cycle_ids, setup.missing, self.options.connections
                if missing:
                    self.pend(f"profile {name}", str(missing))
                    continue
                workload = self.cycles(server.port, cycle_ids)
                m = Measurement(f"profile_{name}", "ecsram", 1, connections, server.port, workload)
                self.facts["profiles"][name] = self.profile(m, server)

    def metadata_profile(self) -> None:
        with contextlib.ExitStack() as stack:
            server = self.ecsram(stack, self.database_url("profile-imds"), 1)
            setup = self.setup_ecsram(server, self.options.instances)
            if setup.missing:
                self.pend("profile imds", str(setup.missing))
                return
            workload = metadata_credentials(ROLE, setup.bound_ids)
            m = Measurement("profile_imds", "ecsram", 1, self.options.connections, server.port, workload)
            self.facts["profiles"]["imds"] = self.profile(m, server)

    def profile(self, m: Measurement, server: servers.Server) -> dict[str, Any]:
        runner = self.runner()
        runner.prepare(m)
        output = self.options.workdir / f"{m.scenario}.txt"
        recorder = profiling.start_recording(server.worker_pids()[0], self.settings.duration, output)
        runner.run_round(m)
        recorder.wait(timeout=self.settings.duration + 60)
        if not output.exists():
            note = (recorder.stdout.read() if recorder.stdout else "")[:300]
            self.pend(m.scenario, f"py-spy wrote nothing: {note}")
            return {}
        summary = profiling.summarise(output)
        summary["load"] = m.runs[0].to_json() if m.runs else None
        summary["collapsed_stacks"] = output.read_text()
        self.log(f"  {m.scenario}: {summary['samples']} samples; top inclusive ecsram functions:")
        for row in summary["inclusive_ecsram"][:15]:
            self.log(f"    {row['percent']:5.1f}%  {row['function']}")
        return summary


def describe_params() -> dict[str, str]:
    return {"RegionId": REGION, "RamRoleName": ROLE}


def attach_setup(client: EcsramClient, ids: list[str]) -> None:
    """Bind the role to ``ids`` (100 per call) and check every item succeeded."""
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        data = client.call(
            "AttachInstanceRamRole", {"RegionId": REGION, "RamRoleName": ROLE, "InstanceIds": instance_ids_param(chunk)}
        )
        if int(data.get("FailCount", 0)):
            raise ApiCallError("AttachInstanceRamRole", 200, "ItemsFailed", str(data)[:300])


def hello_workload(pool: list[str]) -> RepeatablePool:
    return RepeatablePool("hello", wrap=True, pool=pool)
