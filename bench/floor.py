"""The floor of ecsram's measured requests in Python: the least work each needs, and no more.

ecsram's targets are shares of ``bench.hello``. This server answers the requests the benchmark
sends ecsram (signed ``AttachInstanceRamRole`` / ``DetachInstanceRamRole`` cycles, signed
``DescribeInstanceRamRole`` of one instance, and the metadata service's credentials fetch),
doing only what each cannot skip, each step as cheaply as CPython allows:

- a bare ``asyncio.Protocol`` with httptools on uvloop (``bench.protocol_hello``'s stack);
- for a signed call, the query split once; the V1 signature checked over the wire's own pairs
  with ``hmac.digest``; the timestamp checked against a window; the AccessKey and its secret held
  in memory (ecsram caches its keys too);
- requests ready together in one SQLite transaction (WAL, ``synchronous=NORMAL``, as ecsram);
  per request the statements its answer needs and one audit row, with no savepoint: for an
  attach or detach the nonce insert, the role read, the instance read and the conditional
  ``UPDATE``; for a Describe the nonce insert and the instance read; for a credentials fetch the
  instance read, and the three parts of the credentials sealed with HMAC-SHA256 (as ecsram seals
  a session);
- the answer rendered by orjson and written with one ``transport.write``.

No parameter catalogue, no policy, no fault rules, no request log, no error paths beyond the
ones the benchmark meets. Beside ``bench.hello`` and ecsram in the same run it splits ecsram's
distance from its targets into the part any Python server with a durable store would pay (hello
to floor) and ecsram's own (floor to ecsram).

Run: ``python -m bench.floor --port 0 --instances N``; the first stdout line names the port. The
instances for attach+detach are ``floor_instance_ids(N)``, those bound to the role from the start
``floor_bound_ids()``; ``GET /_floor/reset`` detaches the first ones (untimed).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import hmac
import itertools
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

import orjson
import uvloop

from bench.ecsapi import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from bench.protocol_hello import ParsingProtocol

ROLE = "BenchEcsRole"
BOUND = 100
METADATA_CREDENTIALS = "/latest/meta-data/ram/security-credentials/"
WINDOW_SECONDS = 15 * 60
SAFE = "-_.~"
# What a query already RFC 3986-encoded cannot hold: any other character, or a % not followed by
# two upper-case hex digits (two searches: one pattern with both is 3x slower).
OTHER_CHARACTER = re.compile(r"[^A-Za-z0-9_.~=&%-]")
LOOSE_ESCAPE = re.compile(r"%(?![0-9A-F]{2})")
# The three parts of a session's credentials, each sealed from the instance, role and hour.
PARTS = (b"id|", b"secret|", b"token|")
Handler = Callable[[sqlite3.Connection, dict[str, str], float], tuple[int, bytes]]
SCHEMA = """
CREATE TABLE nonces (access_key_id TEXT, nonce TEXT, expires_at INTEGER, PRIMARY KEY (access_key_id, nonce));
CREATE TABLE roles (role_name_key TEXT PRIMARY KEY, role_name TEXT NOT NULL, assume_role_policy TEXT NOT NULL);
CREATE TABLE instances (instance_id TEXT PRIMARY KEY, status TEXT NOT NULL,
    ram_role_name TEXT, ram_role_attached_at TEXT);
CREATE TABLE trail (seq INTEGER PRIMARY KEY, event_time INTEGER, event_name TEXT, access_key_id TEXT,
    resource_names TEXT, request_parameters TEXT, status INTEGER);
"""


def floor_instance_ids(count: int) -> list[str]:
    return [f"i-floor{n:08d}" for n in range(count)]


def floor_bound_ids(count: int = BOUND) -> list[str]:
    """Instances bound to ROLE from the start, for the Describe and the metadata fetch."""
    return [f"i-fbound{n:07d}" for n in range(count)]


def open_store(path: Path, instances: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(SCHEMA)
    policy = '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}]}'
    connection.execute("INSERT INTO roles VALUES (?, ?, ?)", (ROLE.lower(), ROLE, policy))
    connection.executemany(
        "INSERT INTO instances (instance_id, status) VALUES (?, 'Running')",
        [(instance,) for instance in floor_instance_ids(instances)],
    )
    connection.executemany(
        "INSERT INTO instances (instance_id, status, ram_role_name) VALUES (?, 'Running', ?)",
        [(instance, ROLE) for instance in floor_bound_ids()],
    )
    return connection


class Floor:
    """The per-process state: the store, the key, the batch being gathered."""

    def __init__(self, store: sqlite3.Connection) -> None:
        self.store = store
        self.secret = (DEFAULT_ACCESS_KEY_SECRET + "&").encode()
        self.pending: list[tuple[asyncio.Transport, Handler, dict[str, str]]] = []
        self.token_key = os.urandom(32)
        self.request_id_prefix = os.urandom(4).hex().upper()
        self.requests = itertools.count()

    def verify(self, query: str) -> dict[str, str] | str:
        """The request's parameters, or the error code that refuses it.

        The SDKs send every pair already RFC 3986-encoded, so the canonical query is the wire's
        own pairs, sorted by name without the signature; only a query that is not canonical
        pays for decoding and encoding again."""
        pairs = query.split("&")
        signature = ""
        for pair in pairs:
            if pair.startswith("Signature="):
                signature = unquote(pair[10:])
                pairs.remove(pair)
                break
        pairs.sort(key=lambda pair: pair.partition("=")[0])
        canonical = "&".join(pairs)
        params = {}
        for pair in pairs:
            name, _, value = pair.partition("=")
            params[name if "%" not in name else unquote(name)] = value if "%" not in value else unquote(value)
        if OTHER_CHARACTER.search(canonical) or LOOSE_ESCAPE.search(canonical):
            canonical = "&".join(f"{quote(k, safe=SAFE)}={quote(v, safe=SAFE)}" for k, v in sorted(params.items()))
        if params.get("AccessKeyId") != DEFAULT_ACCESS_KEY_ID:
            return "InvalidAccessKeyId.NotFound"
        to_sign = "GET&%2F&" + canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
        expected = base64.b64encode(hmac.digest(self.secret, to_sign.encode(), "sha1")).decode()
        if not hmac.compare_digest(expected, signature):
            return "SignatureDoesNotMatch"
        stamp = datetime.datetime.fromisoformat(params.get("Timestamp", "")).timestamp()
        if abs(stamp - time.time()) > WINDOW_SECONDS:
            return "InvalidTimeStamp.Expired"
        return params

    def submit(self, transport: asyncio.Transport, handler: Handler, params: dict[str, str]) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append((transport, handler, params))

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        answers = []
        now = time.time()
        store = self.store
        store.execute("BEGIN")
        for transport, handler, params in batch:
            answers.append((transport, handler(store, params, now)))
        store.execute("COMMIT")
        for transport, (status, body) in answers:
            head = b"HTTP/1.1 %d OK\r\ncontent-type: application/json;charset=utf-8\r\ncontent-length: %d\r\n\r\n"
            transport.write(head % (status, len(body)) + body)

    def request_id(self) -> str:
        return f"{self.request_id_prefix}-{next(self.requests):012d}"

    @staticmethod
    def spend_nonce(store: sqlite3.Connection, params: dict[str, str], now: float) -> bool:
        inserted = store.execute(
            "INSERT INTO nonces VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (params["AccessKeyId"], params["SignatureNonce"], int(now) + WINDOW_SECONDS),
        ).rowcount
        return bool(inserted)

    @staticmethod
    def record(store: sqlite3.Connection, now: float, event: str, key: str, names: str, params: bytes | None) -> None:
        """The call's audit row."""
        store.execute(
            "INSERT INTO trail (event_time, event_name, access_key_id, resource_names, request_parameters, status)"
            " VALUES (?, ?, ?, ?, ?, 200)",
            (int(now * 1000), event, key, names, params),
        )

    def operate(self, store: sqlite3.Connection, params: dict[str, str], now: float) -> tuple[int, bytes]:
        """AttachInstanceRamRole or DetachInstanceRamRole of one instance."""
        request_id = self.request_id()
        if not self.spend_nonce(store, params, now):
            return 400, orjson.dumps({"RequestId": request_id, "Code": "SignatureNonceUsed"})
        action = params["Action"]
        instance_id = orjson.loads(params["InstanceIds"])[0]
        role = store.execute(
            "SELECT role_name, assume_role_policy FROM roles WHERE role_name_key = ?", (params["RamRoleName"].lower(),)
        ).fetchone()
        row = store.execute(
            "SELECT status, ram_role_name FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        if role is None or row is None or "ecs.aliyuncs.com" not in role[1]:
            return 404, orjson.dumps({"RequestId": request_id, "Code": "InvalidParameter"})
        if action == "AttachInstanceRamRole":
            changed = store.execute(
                "UPDATE instances SET ram_role_name = ?, ram_role_attached_at = ?"
                " WHERE instance_id = ? AND ram_role_name IS NULL",
                (role[0], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), instance_id),
            ).rowcount
            results = "AttachInstanceRamRoleResults"
            result = "AttachInstanceRamRoleResult"
        else:
            changed = store.execute(
                "UPDATE instances SET ram_role_name = NULL, ram_role_attached_at = NULL"
                " WHERE instance_id = ? AND ram_role_name = ?",
                (instance_id, role[0]),
            ).rowcount
            results = "DetachInstanceRamRoleResults"
            result = "DetachInstanceRamRoleResult"
        self.record(store, now, action, params["AccessKeyId"], f"{role[0]};{instance_id}", orjson.dumps(params))
        item = {"InstanceId": instance_id, "Success": bool(changed), "Code": "200" if changed else "Conflict"}
        body = {
            "RequestId": request_id,
            "TotalCount": 1,
            "FailCount": 0 if changed else 1,
            "RamRoleName": role[0],
            results: {result: [item]},
        }
        return 200, orjson.dumps(body)

    def describe(self, store: sqlite3.Connection, params: dict[str, str], now: float) -> tuple[int, bytes]:
        """DescribeInstanceRamRole of one instance."""
        request_id = self.request_id()
        if not self.spend_nonce(store, params, now):
            return 400, orjson.dumps({"RequestId": request_id, "Code": "SignatureNonceUsed"})
        instance_id = orjson.loads(params["InstanceIds"])[0]
        row = store.execute("SELECT ram_role_name FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        found = [] if row is None else [{"InstanceId": instance_id, "RamRoleName": row[0] or ""}]
        self.record(store, now, "DescribeInstanceRamRole", params["AccessKeyId"], instance_id, None)
        body = {
            "RequestId": request_id,
            "RegionId": params.get("RegionId", ""),
            "TotalCount": len(found),
            "InstanceRamRoleSets": {"InstanceRamRoleSet": found},
        }
        return 200, orjson.dumps(body)

    def credentials(self, store: sqlite3.Connection, params: dict[str, str], now: float) -> tuple[int, bytes]:
        """The metadata service's temporary credentials of the instance's role, the same for an hour."""
        instance_id, role = params["instance"], params["role"]
        row = store.execute("SELECT ram_role_name FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        if row is None or row[0] is None or row[0].lower() != role.lower():
            return 404, orjson.dumps({"Code": "NotFound"})
        hour = int(now // 3600)
        seed = f"{instance_id}|{row[0]}|{hour}".encode()
        sealed = [base64.b64encode(hmac.digest(self.token_key, part + seed, "sha256")).decode() for part in PARTS]
        self.record(store, now, "GetRoleCredentials", sealed[0], f"{row[0]};{instance_id}", None)
        body = {
            "AccessKeyId": "STS." + sealed[0][:24],
            "AccessKeySecret": sealed[1][:40],
            "SecurityToken": sealed[2],
            "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((hour + 2) * 3600)),
            "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hour * 3600)),
            "Code": "Success",
        }
        return 200, orjson.dumps(body)

    def reset(self) -> None:
        self.store.execute(
            "UPDATE instances SET ram_role_name = NULL, ram_role_attached_at = NULL WHERE instance_id LIKE 'i-floor%'"
        )


class FloorProtocol(ParsingProtocol):
    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.url = b""
        self.proxy_user = b""

    def on_message_begin(self) -> None:
        self.proxy_user = b""

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"proxy-authorization":
            self.proxy_user = value

    def on_message_complete(self) -> None:
        path, _, query = self.url.decode("latin-1").partition("?")
        if path == "/_floor/reset":
            self.floor.reset()
            self.transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            return
        _, metadata, role = path.partition(METADATA_CREDENTIALS)
        if metadata:
            # The instance is the proxy user, as the benchmark's metadata workload names it.
            user = base64.b64decode(self.proxy_user.partition(b" ")[2]).decode().partition(":")[0]
            self.floor.submit(self.transport, self.floor.credentials, {"instance": user, "role": role})
            return
        verified = self.floor.verify(query)
        if isinstance(verified, str):
            body = orjson.dumps({"Code": verified})
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            return
        handler = self.floor.describe if verified.get("Action") == "DescribeInstanceRamRole" else self.floor.operate
        self.floor.submit(self.transport, handler, verified)


async def serve(host: str, port: int, instances: int, directory: Path) -> None:
    floor = Floor(open_store(directory / "floor.db", instances))
    server = await asyncio.get_running_loop().create_server(lambda: FloorProtocol(floor), host, port)
    print(f"floor listening on http://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--instances", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecsram-floor-") as directory:
        uvloop.run(serve(args.host, args.port, args.instances, Path(directory)))


if __name__ == "__main__":
    main()
