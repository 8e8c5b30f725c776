"""Talking to ecsram's metadata service the way software on an instance does: as an HTTP proxy
for http://100.100.100.200, the instance named by the proxy user name."""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ecsram.testing.clients import metadata_proxy_url

METADATA = "http://100.100.100.200"
CREDENTIALS = "/latest/meta-data/ram/security-credentials/"


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Metadata:
    endpoint: str
    instance_id: str | None
    secret: str = ""

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        headers = {"Host": "100.100.100.200", **extra}
        if self.instance_id is not None:
            user = base64.b64encode(f"{self.instance_id}:{self.secret}".encode()).decode()
            headers["Proxy-Authorization"] = f"Basic {user}"
        return headers

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Answer:
        host, port = self.endpoint.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request(method, METADATA + path, headers=self._headers(headers or {}))
            response = connection.getresponse()
            return Answer(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
        finally:
            connection.close()

    def get(self, path: str, token: str | None = None) -> Answer:
        return self.request("GET", path, {"X-aliyun-ecs-metadata-token": token} if token else {})

    def token(self, ttl: int | str = 60) -> Answer:
        return self.request("PUT", "/latest/api/token", {"X-aliyun-ecs-metadata-token-ttl-seconds": str(ttl)})


proxy_url = metadata_proxy_url


@dataclass
class TokenlessProxy:
    address: str
    seen: list[tuple[str, str, bool]]  # (method, path, carried a metadata token)


@contextmanager
def proxy_without_tokens(upstream: str) -> Iterator[TokenlessProxy]:
    """A forward proxy in front of ecsram that refuses the metadata token PUT, as a network that
    only lets IMDSv1 through would: clients must fall back to token-less GETs."""
    host, port = upstream.rsplit(":", 1)
    seen: list[tuple[str, str, bool]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            seen.append(("PUT", self.path, False))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            seen.append(("GET", self.path, "x-aliyun-ecs-metadata-token" in {k.lower() for k in self.headers}))
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                connection.request("GET", self.path, headers=dict(self.headers.items()))
                response = connection.getresponse()
                body = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            finally:
                connection.close()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TokenlessProxy(f"127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
