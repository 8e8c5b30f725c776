"""A real ecsram server in a child process, for tests (yours and ours).

with ServerProcess(database_url) as server:
    server.endpoint   # "127.0.0.1:PORT", what the SDKs take

with ServerProcess(database_url, tls=True, tls_dir=path) as server:
    server.url        # "https://127.0.0.1:PORT"
    server.ca_path    # the local CA that signed its certificate: what clients must trust
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

_LISTENING = re.compile(r"ecsram listening on https?://([^\s]+):(\d+)")
_TLS_CA = re.compile(r"TLS CA: (.+?) \(")
_METADATA_LISTENER = re.compile(r"metadata listener: http://(\S+) \(")


_OWN_OPTIONS = frozenset({"ECSRAM_METADATA_LISTENERS", "ECSRAM_TEST_CLOCK"})


class ServerFailed(RuntimeError):
    pass


class ServerProcess:
    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 1,
        port: int = 0,
        host: str = "127.0.0.1",
        test_clock: bool = False,
        extra_args: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 20.0,
        tls: bool = False,
        tls_dir: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        trust: Path | None = None,
    ) -> None:
        """``tls``: serve HTTPS with the local CA in ``tls_dir`` (give one: the default is the user's
        own data directory), or with ``tls_cert``/``tls_key``; ``trust`` is the CA file the health
        check verifies the server with (default: the CA the banner names)."""
        self.database_url = database_url
        self.workers = workers
        self.host = host
        self.requested_port = port
        self.test_clock = test_clock
        self.extra_args = extra_args
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.tls = tls or tls_cert is not None
        self.tls_dir = tls_dir
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.trust = trust
        self.ca_path: Path | None = None
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.metadata_listeners: list[str] = []
        self.output: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context that trusts this server's certificate (None without TLS)."""
        if not self.tls:
            return None
        trusted = self.trust or self.ca_path
        return ssl.create_default_context(cafile=str(trusted) if trusted else None)

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "ecsram",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.requested_port or self.port or 0),
            "--database",
            self.database_url,
            "--workers",
            str(self.workers),
        ]
        if self.test_clock:
            args.append("--test-clock")
        if self.tls:
            args.append("--tls")
        if self.tls_dir is not None:
            args += ["--tls-dir", str(self.tls_dir)]
        if self.tls_cert is not None and self.tls_key is not None:
            args += ["--tls-cert", str(self.tls_cert), "--tls-key", str(self.tls_key)]
        return [*args, *self.extra_args]

    def start(self) -> ServerProcess:
        # The listeners and the test clock are this object's to choose (extra_args, test_clock):
        # a setting in the caller's environment, meant for another server, must not reach it.
        inherited = {k: v for k, v in os.environ.items() if k not in _OWN_OPTIONS}
        env = {**inherited, **self.env}
        self.output = []
        self.metadata_listeners = []
        self.ca_path = None
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        port_found = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                listener = _METADATA_LISTENER.search(line)
                if listener:
                    self.metadata_listeners.append(listener.group(1))
                match = _LISTENING.search(line)
                if match:
                    self.port = int(match.group(2))
                ca = _TLS_CA.search(line)
                if ca:
                    self.ca_path = Path(ca.group(1))
                if "SDK endpoint:" in line:  # the banner's last fixed line: listeners are known
                    port_found.set()

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        if not port_found.wait(self.startup_timeout):
            self.stop()
            raise ServerFailed("server did not report its port:\n" + "".join(self.output))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed("server exited:\n" + "".join(self.output))
            if self.healthy():
                return self
            time.sleep(0.02)
        self.stop()
        raise ServerFailed("server did not become healthy:\n" + "".join(self.output))

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.url}/_ecsram/health", timeout=1, context=self.ssl_context()
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout=2)
        code = self.process.returncode
        self.process = None
        return code

    def restart(self) -> ServerProcess:
        """Stop and start again on the same port and database."""
        self.requested_port = self.port
        self.stop()
        return self.start()

    def advance_clock(self, seconds: float) -> None:
        request = urllib.request.Request(f"{self.url}/_ecsram/clock?advance={seconds}", method="POST")
        with urllib.request.urlopen(request, timeout=5, context=self.ssl_context()) as response:
            if response.status != 200:
                raise ServerFailed(f"clock endpoint answered {response.status}")

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def sqlite_url(directory: Path, name: str = "ecsram.db") -> str:
    return f"sqlite:///{directory / name}"
