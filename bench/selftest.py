"""Correctness checks of the harness itself (never of speed): ``python -m bench selftest``.

- the V1 signer reproduces the published test vector;
- each generator, against a real ecsram, completes a short run of pre-signed DescribeRegions with
  no error at all (a request sent twice would come back SignatureNonceUsed, a non-2xx);
- attach+detach cycles run clean on a pool of 16 instances, so every instance is re-used many
  times in a run (a detach sent before its attach was answered, or an attach before the previous
  detach of the instance was, would fail);
- the bulk loader fills a migrated store, and ecsram accepts its instances;
- the floor server (bench/floor.py) attaches and detaches once, refuses a second attach of a bound
  instance, a replayed nonce and a wrong signature, accepts a query that is not canonical,
  describes a bound instance's role, serves its credentials (the same twice within the hour, and
  none for another role), and runs attach+detach cycles clean;
- the delay proxy adds its delay to a round trip (measured with and without it, against an echo
  server) and passes a burst of bytes through whole and in order.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import statistics
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench import bulkload, servers
from bench.ecsapi import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, REGION, EcsramClient, instance_ids_param
from bench.floor import METADATA_CREDENTIALS as FLOOR_CREDENTIALS
from bench.floor import floor_bound_ids, floor_instance_ids
from bench.loadgen.common import GENERATORS
from bench.runner import LoadSettings, Measurement, Runner
from bench.signer import V1Signer, utc_timestamp, v1_signature, v1_string_to_sign
from bench.workloads import attach_detach_cycles, describe_regions, ecs_target

VECTOR_PARAMS = {
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
    "AccessKeyId": "testid",
}
VECTOR_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def check_vector(_: Path) -> None:
    got = v1_signature("testsecret", v1_string_to_sign("GET", VECTOR_PARAMS))
    assert got == VECTOR_SIGNATURE, f"signature {got} != {VECTOR_SIGNATURE}"


def check_generators(workdir: Path) -> None:
    signer = V1Signer(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    server = servers.start_ecsram(f"sqlite:///{workdir}/gen.db", 1)
    try:
        client = EcsramClient("127.0.0.1", server.port, signer)
        client.create_ecs_role("SelftestRole")
        ids = client.run_instances(64)
        client.close()
        runner = Runner(LoadSettings(duration=1.0, warmup=1.0, repeats=1), workdir, log=lambda _: None)
        for generator in GENERATORS:
            for lanes in (1, 2):
                cells = [
                    Measurement("DescribeRegions", "ecsram", 1, 4, server.port, describe_regions(signer)),
                    Measurement(
                        "cycles", "ecsram", 1, 4, server.port, attach_detach_cycles(signer, "SelftestRole", ids)
                    ),
                ]
                for m in cells:
                    m.generator, m.lanes = generator, lanes
                    runner.run_round(m)
                    run = m.runs[0]
                    assert run.ok, f"{generator} x{lanes} {m.scenario}: {run.to_json()}"
                    if m.scenario == "cycles":
                        assert run.followed > 0 and run.unmatched == 0, f"{generator}: follow-ups {run.to_json()}"
    finally:
        server.stop()


def check_bulk_load(workdir: Path) -> None:
    url = f"sqlite:///{workdir}/bulk.db"
    bulkload.prepare_database(url)
    bulkload.load_instances(url, 1000)
    bulkload.load_instances(url, 10, first=1000)
    assert bulkload.count_instances(url) == 1010
    server = servers.start_ecsram(url, 1)
    try:
        client = EcsramClient("127.0.0.1", server.port)
        client.create_ecs_role("SelftestRole")
        ids = [bulkload.instance_id(n) for n in (0, 500, 1009)]
        data = client.call(
            "AttachInstanceRamRole",
            {"RegionId": REGION, "RamRoleName": "SelftestRole", "InstanceIds": instance_ids_param(ids)},
        )
        assert data["FailCount"] == 0, data
        client.close()
    finally:
        server.stop()


def _echo_server() -> tuple[socket.socket, int]:
    """A loopback TCP echo server on a thread (one connection at a time), for the proxy check."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                while data := connection.recv(65536):
                    connection.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return listener, int(listener.getsockname()[1])


def _round_trips(port: int, count: int) -> tuple[list[float], bytes]:
    """``count`` numbered round trips on one connection: their times (ms) and everything echoed."""
    times, echoed = [], b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for n in range(count):
            message = f"{n:06d};".encode()
            started = time.perf_counter()
            sock.sendall(message)
            received = b""
            while len(received) < len(message):
                received += sock.recv(65536)
            times.append((time.perf_counter() - started) * 1000)
            echoed += received
        # A burst sent without waiting comes back whole and in order (nothing held back or reordered).
        burst = b"".join(f"b{n:05d};".encode() for n in range(2000))
        sock.sendall(burst)
        received = b""
        while len(received) < len(burst):
            received += sock.recv(65536)
        echoed += received
    return times, echoed


def _floor_get(
    server: servers.Server, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(server.url + target, headers=headers or {}), timeout=10
        ) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def check_floor(workdir: Path) -> None:
    server = servers.start_floor(16)
    try:
        signer = V1Signer(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        instance = floor_instance_ids(16)[3]
        params = {"RegionId": REGION, "RamRoleName": "BenchEcsRole", "InstanceIds": instance_ids_param([instance])}
        attach = ecs_target(signer, {"Action": "AttachInstanceRamRole", **params}, utc_timestamp())
        status, body = _floor_get(server, attach)
        assert status == 200 and body["FailCount"] == 0, body
        status, body = _floor_get(server, attach)
        assert status == 400 and body["Code"] == "SignatureNonceUsed", body
        again = ecs_target(signer, {"Action": "AttachInstanceRamRole", **params}, utc_timestamp())
        status, body = _floor_get(server, again)
        assert status == 200 and body["FailCount"] == 1, body
        forged = ecs_target(signer, {"Action": "DetachInstanceRamRole", **params}, utc_timestamp())
        status, body = _floor_get(server, forged.replace("BenchEcsRole", "OtherRole"))
        assert status == 400 and body["Code"] == "SignatureDoesNotMatch", body
        # Lower-case escapes are not canonical: the floor re-encodes, and the signature still holds.
        detach = ecs_target(signer, {"Action": "DetachInstanceRamRole", **params}, utc_timestamp())
        status, body = _floor_get(server, detach.replace("%5B", "%5b"))
        assert status == 200 and body["FailCount"] == 0, body
        bound = floor_bound_ids()[0]
        describe = {"Action": "DescribeInstanceRamRole", "RegionId": REGION, "InstanceIds": instance_ids_param([bound])}
        status, body = _floor_get(server, ecs_target(signer, describe, utc_timestamp()))
        assert status == 200 and body["InstanceRamRoleSets"] == {
            "InstanceRamRoleSet": [{"InstanceId": bound, "RamRoleName": "BenchEcsRole"}]
        }, body
        as_instance = {"Proxy-Authorization": "Basic " + base64.b64encode(f"{bound}:".encode()).decode()}
        status, body = _floor_get(server, f"{FLOOR_CREDENTIALS}BenchEcsRole", as_instance)
        assert status == 200 and str(body["AccessKeyId"]).startswith("STS."), body
        assert _floor_get(server, f"{FLOOR_CREDENTIALS}BenchEcsRole", as_instance)[1] == body  # the same for the hour
        status, body = _floor_get(server, f"{FLOOR_CREDENTIALS}OtherRole", as_instance)
        assert status == 404, body
        runner = Runner(LoadSettings(duration=1.0, warmup=1.0, repeats=1), workdir, log=lambda _: None)
        cycles = attach_detach_cycles(signer, "BenchEcsRole", [i for i in floor_instance_ids(16) if i != instance])
        m = Measurement("cycles", "floor", 1, 4, server.port, cycles)
        m.generator, m.lanes = "python", 1
        runner.run_round(m)
        run = m.runs[0]
        assert run.ok and run.followed > 0 and run.unmatched == 0, f"floor cycles: {run.to_json()}"
    finally:
        server.stop()


def check_delay_proxy(_: Path) -> None:
    delay_ms = 2.0
    listener, port = _echo_server()
    proxy = servers.start_delay_proxy(delay_ms, f"127.0.0.1:{port}")
    try:
        direct, _echoed = _round_trips(port, 100)
        proxied, echoed = _round_trips(proxy.port, 100)
    finally:
        proxy.stop()
        listener.close()
    expected = "".join(f"{n:06d};" for n in range(100)) + "".join(f"b{n:05d};" for n in range(2000))
    assert echoed.decode() == expected, "the proxy changed or reordered the bytes"
    added = statistics.median(proxied) - statistics.median(direct)
    # Two delays per round trip; the proxy may add its own time, never take any away.
    assert added >= 2 * delay_ms * 0.95, f"round trip +{added:.3f} ms through a {delay_ms} ms proxy"
    assert min(proxied) >= 2 * delay_ms * 0.95, f"a round trip took {min(proxied):.3f} ms through the proxy"
    print(
        f"     delay proxy: round trip {statistics.median(direct):.3f} ms direct, "
        f"{statistics.median(proxied):.3f} ms through {delay_ms:g} ms each way"
    )


CHECKS: dict[str, Callable[[Path], None]] = {
    "signer matches the published V1 vector": check_vector,
    "generators run clean (no duplicate, ordered follow-ups)": check_generators,
    "bulk loader fills a store ecsram serves": check_bulk_load,
    "floor server answers what the benchmark sends and refuses what it must": check_floor,
    "delay proxy adds its delay each way and keeps the bytes in order": check_delay_proxy,
}


def main() -> int:
    passed = failed = 0
    workdir = Path(tempfile.mkdtemp(prefix="ecsram-bench-selftest-"))
    try:
        for name, check in CHECKS.items():
            try:
                check(workdir)
            except Exception:
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}")
            else:
                passed += 1
                print(f"ok   {name}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
