"""Connections: kept alive between requests, closed (once, cleanly) after an answer that left a body unread.

Raw-socket tests use short timeouts: a server that kept a client waiting fails them with a
timeout instead of hanging the suite.  Whatever a client sends, it gets an answer with the
gateway's error body, or (after an answer, or at a ``drop`` fault) a close.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from kit.api import cluster_path
from kit.emulator import LocalEmulator
from mrs_emulator import start_emulator, wsgi_server
from mrs_emulator.app import MAX_BODY_BYTES
from mrs_emulator.wsgi_server import DRAIN_BYTES

from .helpers import RawResponse

WAIT = 3.0
"""Seconds a raw client waits for anything; every expected answer comes much sooner."""


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

    def closing_response(self, status: int) -> RawResponse:
        """The next response, which must have ``status`` and ``Connection: close``, and then the end."""
        response = self.response()
        assert response.status == status, response
        assert response.header_values("Connection") == ["close"], response
        assert self.closed_by_server()
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
def url(socket_emulator: LocalEmulator) -> str:
    return socket_emulator.url


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
    response = connection.closing_response(413)

    assert json.loads(response.body)["error_code"] == "APIGW.0201"
    assert time.monotonic() - started < WAIT


def test_a_404_with_a_large_unsent_body_closes_instead_of_waiting_for_it(connect):
    connection = connect()

    connection.request("POST", "/nowhere", headers={"Content-Length": str(DRAIN_BYTES * 4)}, body=b"x" * 100)
    connection.closing_response(404)


def test_a_404_whose_small_body_never_comes_closes_after_a_short_wait(connect):
    connection = connect()

    connection.request("POST", "/_emulator/nowhere", headers={"Content-Length": "50"}, body=b"x" * 10)
    started = time.monotonic()
    connection.closing_response(404)
    assert time.monotonic() - started < 1.0


def test_httpx_reads_a_413_for_a_chunked_body_and_then_uses_a_new_connection(socket_emulator):
    client = socket_emulator.client()

    def chunks() -> Iterator[bytes]:
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
    response = connection.closing_response(400)

    assert json.loads(response.body)["error_code"] == "EMULATOR.0400"


def test_a_client_asking_to_close_gets_connection_close_once_and_an_end(connect):
    connection = connect()

    connection.request("GET", "/_emulator/health", headers={"Connection": "close"})
    connection.closing_response(200)


def test_http_1_0_gets_one_answer_and_a_close(connect):
    connection = connect()

    connection.send(b"GET /_emulator/health HTTP/1.0\r\n\r\n")
    response = connection.response()

    assert response.status == 200
    assert connection.closed_by_server()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Transfer-Encoding": "gzip"}, 400),
        ({"Transfer-Encoding": "chunked", "Content-Length": "4"}, 400),
        ({"Content-Length": "four"}, 400),
    ],
)
def test_ambiguous_or_unsupported_framing_is_refused_and_closed(connect, headers, status):
    connection = connect()

    connection.request("POST", "/_emulator/reset", headers=headers, body=b"0\r\n\r\n")
    connection.closing_response(status)


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


# -- malformed, oversized and stalled requests: a gateway error and a close, never a hang --------


def _error_code(response: RawResponse) -> str:
    body = json.loads(response.body)
    assert set(body) == {"error_code", "error_msg", "request_id"}
    assert response.header_values("X-Request-Id") == [body["request_id"]]
    code: str = body["error_code"]
    return code


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        (b"GET /_emulator/health HTTP/2.0\r\nHost: h\r\n\r\n", 400),
        (b"GET /_emulator/health HTTX/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET  /_emulator/health HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"G(T /_emulator/health HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 494),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n", 494),
        (b"GET /_emulator/health HTTP/1.1\r\n\r\n", 400),
        (b"GET /_emulator/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", 400),
        (b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\nX-A: a\r\n folded\r\n\r\n", 400),
        (b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n", 400),
        (b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET http://[::1/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST /_emulator/reset HTTP/1.1\r\nHost: h\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 413),
        (b"POST /_emulator/reset HTTP/1.1\r\nHost: h\r\nContent-Length: \xb2\r\n\r\n", 400),
        (b"POST /_emulator/reset HTTP/1.1\r\nHost: h\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n{}", 417),
    ],
    ids=[
        "tls-hello",
        "http2",
        "bad-version",
        "two-spaces",
        "bad-method",
        "long-line",
        "many-fields",
        "big-field",
        "no-host",
        "two-hosts",
        "nul",
        "folded",
        "no-colon",
        "asterisk",
        "bad-absolute",
        "non-ascii-target",
        "huge-length",
        "unicode-digit-length",
        "odd-expectation",
    ],
)
def test_a_malformed_or_oversized_head_gets_a_gateway_error_and_a_close(connect, head, status):
    connection = connect()

    connection.send(head)
    response = connection.closing_response(status)

    assert _error_code(response) in {"APIGW.0201", f"EMULATOR.{status:04d}"}


def test_a_refusal_under_the_control_prefix_uses_the_control_code(connect):
    connection = connect()

    connection.request("PUT", "/_emulator/settings", headers={"Transfer-Encoding": "gzip"})
    response = connection.response()

    assert (response.status, _error_code(response)) == (400, "EMULATOR.0400")


def test_a_head_that_stops_arriving_gets_408_and_a_close(monkeypatch, connect):
    monkeypatch.setattr(wsgi_server, "STALL_SECONDS", 0.3)
    connection = connect()

    connection.send(b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\nX-Half: ")
    started = time.monotonic()
    response = connection.response()

    assert response.status == 408
    assert _error_code(response) == "EMULATOR.0408"
    assert connection.closed_by_server()
    assert time.monotonic() - started < WAIT


def test_a_body_that_stops_arriving_gets_400_and_a_close(monkeypatch, connect):
    monkeypatch.setattr(wsgi_server, "STALL_SECONDS", 0.3)
    connection = connect()

    connection.request(
        "POST", cluster_path(), headers={"Content-Length": "100", "X-Auth-Token": "t"}, body=b'{"user'
    )
    response = connection.response()

    assert (response.status, _error_code(response)) == (400, "APIGW.0201")
    assert connection.closed_by_server()


def test_a_client_that_disconnects_mid_body_gets_400_and_a_close(connect):
    connection = connect()

    connection.request("PUT", "/_emulator/settings", headers={"Content-Length": "100"}, body=b'{"sync_')
    connection.sock.shutdown(socket.SHUT_WR)
    response = connection.closing_response(400)

    assert _error_code(response) == "EMULATOR.0400"


@pytest.mark.parametrize(
    "chunks",
    [
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello!!0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["hex-prefix", "negative", "no-crlf", "plus-sign"],
)
def test_a_malformed_chunked_api_body_is_a_gateway_400_and_a_close(connect, chunks):
    connection = connect()

    connection.request(
        "POST", cluster_path(), headers={"Transfer-Encoding": "chunked", "X-Auth-Token": "t"}, body=chunks
    )
    response = connection.response()

    assert (response.status, _error_code(response)) == (400, "APIGW.0201")
    assert connection.closed_by_server()


def test_endless_trailers_are_refused(connect):
    connection = connect()
    trailers = b"X-T: " + b"t" * 1000 + b"\r\n"

    connection.request("PUT", "/_emulator/settings", headers={"Transfer-Encoding": "chunked"}, body=b"0\r\n")
    connection.send(trailers * 80 + b"\r\n")
    response = connection.response()

    assert (response.status, _error_code(response)) == (400, "EMULATOR.0400")


def test_expect_100_continue_is_answered_when_the_body_is_wanted(connect):
    connection = connect()

    connection.request(
        "PUT", "/_emulator/settings", headers={"Expect": "100-continue", "Content-Length": "21"}
    )
    interim = connection.response(head=True)
    connection.send(b'{"sync_seconds": 0.5}')
    final = connection.response()

    assert interim.status == 100
    assert final.status == 200 and json.loads(final.body)["sync_seconds"] == 0.5


def test_an_oversized_body_behind_expect_100_continue_is_refused_without_inviting_it(connect):
    connection = connect()

    connection.request(
        "POST",
        cluster_path(),
        headers={"Expect": "100-continue", "Content-Length": str(MAX_BODY_BYTES + 1)},
    )
    response = connection.closing_response(413)

    assert _error_code(response) == "APIGW.0201"
