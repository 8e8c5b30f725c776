"""Servers under test, each in its own process group: ecsram, the hello baseline, moto_server.

Every server is started by this module and stopped by it (SIGTERM to the process we started,
then SIGKILL to its process group if it lingers), so a benchmark never leaves one running.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MAIN = Path(__file__).resolve().parent.parent
ECSRAM = MAIN / ".venv" / "bin" / "ecsram"
_PORT_LINE = re.compile(r"listening on http://[^\s:]+:(\d+)")


class ServerFailed(RuntimeError):
    pass


@dataclass
class Server:
    """A running server process: where it listens and how to reach its worker processes."""

    name: str
    process: subprocess.Popen[str]
    port: int
    output: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the children, or the process itself when it has none."""
        children: list[int] = []
        task_dir = Path(f"/proc/{self.process.pid}/task")
        with contextlib.suppress(OSError):
            for task in task_dir.iterdir():
                children.extend(int(pid) for pid in (task / "children").read_text().split())
        return children or [self.process.pid]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        # Whatever is left of the group we created (workers of a killed supervisor).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(name: str, command: Sequence[str], *, port: int | None, env: dict[str, str] | None = None) -> Server:
    """Start ``command``; learn its port from a ``listening on http://host:PORT`` line unless given."""
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        cwd=MAIN,
    )
    server = Server(name, process, port or 0)
    found = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if len(server.output) < 200:
                server.output.append(line)
            match = _PORT_LINE.search(line)
            if match and not server.port:
                server.port = int(match.group(1))
            if server.port:
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    if port:
        found.set()
    if not found.wait(30) or not server.port:
        server.stop()
        raise ServerFailed(f"{name} did not report a port:\n{''.join(server.output)}")
    return server


def wait_ready(server: Server, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"{server.name} exited with {server.process.returncode}:\n{''.join(server.output)}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise ServerFailed(f"{server.name} not ready after {timeout}s:\n{''.join(server.output)}")


def ecsram_command(source: Path | None) -> tuple[list[str], dict[str, str]]:
    """The ecsram CLI: the installed one, or ``python -m ecsram`` from another checkout's src/."""
    if source is None:
        return [str(ECSRAM)], {}
    return [str(MAIN / ".venv" / "bin" / "python"), "-m", "ecsram"], {"PYTHONPATH": str(source)}


def start_ecsram(database_url: str, workers: int, source: Path | None = None, extra_args: Sequence[str] = ()) -> Server:
    base, env = ecsram_command(source)
    command = [*base, "serve", "--port", "0", "--database", database_url, "--workers", str(workers), *extra_args]
    server = _spawn("ecsram", command, port=None, env={"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", **env})
    wait_ready(server, "/_ecsram/health")
    return server


def _start_module(name: str, module: str, ready_path: str, *args: str) -> Server:
    """``python -m module --port 0 ...``, ready once ``ready_path`` answers."""
    server = _spawn(name, [sys.executable, "-m", module, "--port", "0", *args], port=None)
    wait_ready(server, ready_path)
    return server


def start_hello(workers: int) -> Server:
    return _start_module("hello", "bench.hello", "/", "--workers", str(workers))


def start_protocol_hello() -> Server:
    return _start_module("protocol_hello", "bench.protocol_hello", "/")


def start_floor(instances: int) -> Server:
    return _start_module("floor", "bench.floor", "/_floor/reset", "--instances", str(instances))


def start_moto(moto_server: Path) -> Server:
    port = free_port()
    command = [str(moto_server), "-H", "127.0.0.1", "-p", str(port)]
    server = _spawn("moto", command, port=port)
    wait_ready(server, "/moto-api/")
    return server


def start_delay_proxy(delay_ms: float, upstream: str = "127.0.0.1:5432") -> Server:
    """The TCP delay proxy (bench/delayproxy.py) in front of ``upstream``, ``delay_ms`` each way."""
    command = [sys.executable, "-m", "bench.delayproxy", "--delay-ms", str(delay_ms), "--upstream", upstream]
    return _spawn("delayproxy", command, port=None)
