"""Connections: kept alive between requests, closed (once, cleanly) after an answer that left a body unread.

Raw-socket tests use short timeouts: a server that kept a client waiting fails them with a
timeout instead of hanging the suite.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

import httpx
import pytest

from mrs_emulator import start_emulator
from mrs_emulator.app import MAX_BODY_BYTES
from mrs_emulator.wsgi_server import DRAIN_BYTES

from .helpers import cluster_path

WAIT = 3.0
"""Seconds a raw client waits for anything; every expected answer comes much sooner."""


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class RawConnection:
    """One TCP connection, spoken to byte by byte."""

    def __init__(self, url: str) -> None:
        address = httpx.URL(url)
        self.sock = socket.create_connection((address.host, address.port), timeout=WAIT)
        self.host = f"{address.host}:{address.port}"
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self._buffer += data
        return bool(data)

    def response(self, *, head: bool = False) -> RawResponse:
        while b"\r\n\r\n" not in self._buffer:
            assert self._fill(), f"the connection ended before a full response: {self._buffer!r}"
        head_bytes, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
        headers = [tuple(line.split(": ", 1)) for line in header_lines]
        response = RawResponse(int(status_line.split()[1]), headers, b"")  # type: ignore[arg-type]
        length = 0 if head else int(response.header_values("Content-Length")[0])
        while len(self._buffer) < length:
            assert self._fill(), "the connection ended inside the response body"
        response.body, self._buffer = self._buffer[:length], self._buffer[length:]
        return response

    def closed_by_server(self) -> bool:
        """True when the server has ended the connection (EOF); a timeout means it kept it open."""
        try:
            return not self._fill() and not self._buffer
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def url(socket_emulator) -> str:
    return socket_emulator.base_url


@pytest.fixture
def connect(url):
    opened: list[RawConnection] = []

    def factory() -> RawConnection:
        connection = RawConnection(url)
        opened.append(connection)
        return connection

    yield factory
    for connection in opened:
        connection.close()


def _client_port(response: httpx.Response) -> int:
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


# -- keep-alive -----------------------------------------------------------------------------------


def test_httpx_sends_two_signed_api_requests_over_one_connection(socket_emulator):
    api = socket_emulator.api()

    first = api.status()
    first_port = _client_port(first)
    second = api.sync({"user_names": ["alice"]})

    assert (first.status_code, second.status_code) == (200, 202)
    assert _client_port(second) == first_port
    assert "connection" not in first.headers


def test_two_requests_on_one_raw_connection_are_both_answered(connect):
    connection = connect()

    connection.request("GET", "/_emulator/health")
    first = connection.response()
    connection.request("GET", "/_emulator/settings")
    second = connection.response()

    assert (first.status, json.loads(first.body)) == (200, {"status": "ok"})
    assert second.status == 200 and "sync_seconds" in json.loads(second.body)
    assert first.header_values("Connection") == []


def test_a_chunked_body_keeps_the_connection_usable(connect):
    connection = connect()
    chunks = b'7\r\n{"sync_\r\n' + b'f\r\nseconds": 0.25}\r\n' + b"0\r\n\r\n"

    connection.request("PUT", "/_emulator/settings", headers={"Transfer-Encoding": "chunked"}, body=chunks)
    changed = connection.response()
    connection.request("GET", "/_emulator/settings")
    shown = connection.response()

    assert changed.status == 200, changed.body
    assert json.loads(shown.body)["sync_seconds"] == 0.25


def test_head_answers_headers_only_and_the_connection_goes_on(connect):
    connection = connect()

    connection.request("HEAD", cluster_path(suffix="iam-sync"))
    head = connection.response(head=True)
    connection.request("GET", "/_emulator/health")

    assert (head.status, head.body) == (404, b"")
    assert connection.response().status == 200


def test_a_small_unread_body_is_drained_and_the_connection_kept(connect):
    connection = connect()

    connection.request("POST", "/nowhere", headers={"Content-Length": "2"}, body=b"{}")
    refused = connection.response()
    connection.request("GET", "/_emulator/health")

    assert refused.status == 404 and refused.header_values("Connection") == []
    assert connection.response().status == 200


# -- early answers close the connection ---------------------------------------------------------


def test_an_announced_oversized_body_gets_413_then_a_close_without_waiting(connect):
    connection = connect()
    length = MAX_BODY_BYTES + 1

    connection.request("POST", cluster_path(), headers={"Content-Length": str(length)}, body=b"{" * 1000)
    started = time.monotonic()
    response = connection.response()

    assert response.status == 413
    assert json.loads(response.body)["error_code"] == "APIGW.0201"
    assert response.header_values("Connection") == ["close"]
    assert connection.closed_by_server()
    assert time.monotonic() - started < WAIT


def test_a_404_with_a_large_unsent_body_closes_instead_of_waiting_for_it(connect):
    connection = connect()

    connection.request("POST", "/nowhere", headers={"Content-Length": str(DRAIN_BYTES * 4)}, body=b"x" * 100)
    response = connection.response()

    assert response.status == 404
    assert response.header_values("Connection") == ["close"]
    assert connection.closed_by_server()


def test_a_404_whose_small_body_never_comes_closes_after_a_short_wait(connect):
    connection = connect()

    connection.request("POST", "/_emulator/nowhere", headers={"Content-Length": "50"}, body=b"x" * 10)
    started = time.monotonic()
    response = connection.response()

    assert response.status == 404
    assert response.header_values("Connection") == ["close"]
    assert connection.closed_by_server()
    assert time.monotonic() - started < 1.0


def test_httpx_reads_a_413_for_a_chunked_body_and_then_uses_a_new_connection(socket_emulator):
    client = socket_emulator.client()

    def chunks():
        for _ in range(13):
            yield b" " * (1024 * 1024)

    refused = client.post(cluster_path(), content=chunks())
    after = client.get("/_emulator/health")

    assert refused.status_code == 413
    assert refused.headers.get_list("Connection") == ["close"]
    assert after.status_code == 200


def test_a_malformed_chunked_body_is_a_400_and_a_close(connect):
    connection = connect()

    connection.request(
        "PUT", "/_emulator/settings", headers={"Transfer-Encoding": "chunked"}, body=b"zz\r\n{}\r\n0\r\n\r\n"
    )
    response = connection.response()

    assert response.status == 400
    assert json.loads(response.body)["error_code"] == "EMULATOR.0400"
    assert response.header_values("Connection") == ["close"]
    assert connection.closed_by_server()


def test_a_client_asking_to_close_gets_connection_close_once_and_an_end(connect):
    connection = connect()

    connection.request("GET", "/_emulator/health", headers={"Connection": "close"})
    response = connection.response()

    assert response.status == 200
    assert response.header_values("Connection") == ["close"]
    assert connection.closed_by_server()


def test_http_1_0_gets_one_answer_and_a_close(connect):
    connection = connect()

    connection.send(b"GET /_emulator/health HTTP/1.0\r\n\r\n")
    response = connection.response()

    assert response.status == 200
    assert connection.closed_by_server()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Transfer-Encoding": "gzip"}, 501),
        ({"Transfer-Encoding": "chunked", "Content-Length": "4"}, 400),
        ({"Content-Length": "four"}, 400),
    ],
)
def test_ambiguous_or_unsupported_framing_is_refused_and_closed(connect, headers, status):
    connection = connect()

    connection.request("POST", "/_emulator/reset", headers=headers, body=b"0\r\n\r\n")
    response = connection.response()

    assert response.status == status
    assert response.header_values("Connection") == ["close"]
    assert connection.closed_by_server()


# -- drops and stopping ---------------------------------------------------------------------------


def test_a_drop_on_a_kept_alive_connection_cuts_only_that_connection(socket_emulator):
    api = socket_emulator.api()
    assert api.status().status_code == 200
    socket_emulator.ok("POST", "faults", {"kind": "drop", "count": 1, "methods": ["GET"]})

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.status()

    assert api.status().status_code == 200


def test_stopping_ends_idle_kept_alive_connections_promptly():
    handle = start_emulator(sync_seconds=0)
    connection = RawConnection(handle.url)
    try:
        connection.request("GET", "/_emulator/health")
        assert connection.response().status == 200

        started = time.monotonic()
        handle.stop()

        assert time.monotonic() - started < 2.0
        assert connection.closed_by_server()
    finally:
        connection.close()
        handle.stop()
