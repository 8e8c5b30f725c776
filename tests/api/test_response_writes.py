"""The API answers with one write of head and body (transport.send_whole); what HTTP/1.1 asks of
a response stays as it was: pipelined requests answered in order, HEAD without a body,
``Expect: 100-continue``, HTTP/1.0 closing the connection, keep-alive otherwise."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlencode

import orjson

from tests.conftest import Sdk
from tests.support.raw import RawClient


def _connect(sdk: Sdk) -> socket.socket:
    host, port = sdk.endpoint.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def _signed_target(sdk: Sdk, action: str, method: str = "GET") -> str:
    params = RawClient(sdk.endpoint, sdk.key.access_key_id, sdk.key.secret).v1_params(action, method=method)
    return "/?" + urlencode(params)


class _Reader:
    """Responses read off one socket, one after the other."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self, *, head_only: bool = False) -> tuple[str, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection closed mid-head: {self.buffer!r}"
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = 0 if head_only else int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._fill(), "connection closed mid-body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def closed(self) -> bool:
        return not self.buffer and not self._fill()


def test_pipelined_requests_are_answered_in_order(sdk: Sdk) -> None:
    actions = ["DescribeRegions", "DescribeInstances", "DescribeRegions", "DescribeInstanceRamRole"]
    targets = [_signed_target(sdk, action) for action in actions]
    targets[1] = targets[1].replace("Action=DescribeInstances", "Action=DescribeInstances&RegionId=cn-hangzhou")
    targets[3] = targets[3].replace("Action=", "RegionId=cn-hangzhou&Action=")
    with _connect(sdk) as sock:
        sock.sendall(b"".join(f"GET {t} HTTP/1.1\r\nHost: {sdk.endpoint}\r\n\r\n".encode() for t in targets))
        reader = _Reader(sock)
        answers = [reader.response() for _ in targets]
    bodies = [orjson.loads(body) for _status, _headers, body in answers]
    # Signed parameters were changed on two of them: those are refused, in their place in the order.
    assert [status for status, _h, _b in answers] == [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 400 Bad Request",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 400 Bad Request",
    ]
    assert "Regions" in bodies[0] and "Regions" in bodies[2]
    assert bodies[1]["Code"] == bodies[3]["Code"] == "SignatureDoesNotMatch"
    for _status, headers, _body in answers:
        assert headers["x-acs-request-id"]
        assert "connection" not in headers  # kept alive


def test_head_gets_the_head_only_and_the_connection_stays_usable(sdk: Sdk) -> None:
    with _connect(sdk) as sock:
        reader = _Reader(sock)
        sock.sendall(f"HEAD {_signed_target(sdk, 'DescribeRegions')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, headers, _ = reader.response(head_only=True)
        assert status == "HTTP/1.1 403 Forbidden"  # UnsupportedHTTPMethod: the API answers GET and POST
        assert int(headers["content-length"]) > 0
        sock.sendall(f"GET {_signed_target(sdk, 'DescribeRegions')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, _headers, body = reader.response()
    assert status == "HTTP/1.1 200 OK", "the HEAD answer carried no body bytes into the next response"
    assert "Regions" in orjson.loads(body)


def test_expect_100_continue_gets_continue_then_the_answer(sdk: Sdk) -> None:
    params = RawClient(sdk.endpoint, sdk.key.access_key_id, sdk.key.secret).v1_params("DescribeRegions", method="POST")
    body = urlencode(params).encode()
    with _connect(sdk) as sock:
        reader = _Reader(sock)
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        status, _headers, _ = reader.response(head_only=True)
        assert status == "HTTP/1.1 100 Continue"
        sock.sendall(body)
        status, _headers, answer = reader.response()
    assert status == "HTTP/1.1 200 OK"
    assert "Regions" in orjson.loads(answer)


def test_http_1_0_gets_connection_close_and_the_connection_ends(sdk: Sdk) -> None:
    with _connect(sdk) as sock:
        reader = _Reader(sock)
        sock.sendall(f"GET {_signed_target(sdk, 'DescribeRegions')} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        status, headers, body = reader.response()
        assert status == "HTTP/1.1 200 OK"
        assert headers["connection"] == "close"
        assert "Regions" in orjson.loads(body)
        assert reader.closed()


def _post_form(sdk: Sdk, action: str) -> bytes:
    params = RawClient(sdk.endpoint, sdk.key.access_key_id, sdk.key.secret).v1_params(action, method="POST")
    return urlencode(params).encode()


def test_many_pipelined_requests_to_a_client_that_does_not_read_are_all_answered_in_order(sdk: Sdk) -> None:
    """A client that pipelines hundreds of requests and reads nothing for a while fills the
    connection's buffers, so the server's writing is paused and answers wait for it to resume
    (transport.answer_on): none may be lost, doubled or reordered."""
    count = 1500
    targets = [_signed_target(sdk, "DescribeRegions") for _ in range(count)]
    # Every 50th is refused (its signed Version changed), to tell the answers apart in order.
    for index in range(0, count, 50):
        targets[index] = targets[index].replace("Version=2014-05-26", "Version=2014-05-27")
    requests = b"".join(f"GET {t} HTTP/1.1\r\nHost: {sdk.endpoint}\r\n\r\n".encode() for t in targets)
    host, port = sdk.endpoint.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
        sock.settimeout(30)
        sock.connect((host, int(port)))
        sender = threading.Thread(target=sock.sendall, args=(requests,))
        sender.start()
        time.sleep(1.0)  # answers pile up unread
        reader = _Reader(sock)
        answers = [reader.response() for _ in range(count)]
        sender.join(timeout=30)
    statuses = [status for status, _headers, _body in answers]
    assert statuses == ["HTTP/1.1 400 Bad Request" if n % 50 == 0 else "HTTP/1.1 200 OK" for n in range(count)]
    assert len({headers["x-acs-request-id"] for _status, headers, _body in answers}) == count
    assert all("Regions" in orjson.loads(body) for status, _h, body in answers if status.endswith("200 OK"))


def test_a_form_body_that_arrives_in_pieces_is_read_whole(sdk: Sdk) -> None:
    body = _post_form(sdk, "DescribeRegions")
    head = (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(sdk) as sock:
        reader = _Reader(sock)
        for piece in (head, body[:10], body[10:-5], body[-5:]):
            sock.sendall(piece)
            time.sleep(0.05)
        status, _headers, answer = reader.response()
        # And the next request on the connection, whole in one write.
        sock.sendall(
            head.replace(str(len(body)).encode(), str(len(second := _post_form(sdk, "DescribeRegions"))).encode())
            + second
        )
        second_status, _headers, second_answer = reader.response()
    assert status == second_status == "HTTP/1.1 200 OK"
    assert "Regions" in orjson.loads(answer) and "Regions" in orjson.loads(second_answer)


def test_a_chunked_form_body_is_answered(sdk: Sdk) -> None:
    body = _post_form(sdk, "DescribeRegions")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:40], body[40:]))
    with _connect(sdk) as sock:
        reader = _Reader(sock)
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
        )
        status, _headers, answer = reader.response()
    assert status == "HTTP/1.1 200 OK"
    assert "Regions" in orjson.loads(answer)
