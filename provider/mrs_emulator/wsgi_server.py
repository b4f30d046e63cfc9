"""The emulator's HTTP/1.1 server: keep-alive connections, one thread each, serving the WSGI app.

Why not werkzeug's development server: it answers every request with ``Connection: close`` and
cannot keep a connection open, so every client would pay a TCP connect per request; a client
such as the provider, which pools its connections, would never reuse one.  This server keeps
the standard library's connection handling (``socketserver``, ``http.server``'s handler loop)
and does the rest itself, because the standard parser is lenient where a gateway is strict and
answers its refusals in HTML:

* connections stay open between requests (HTTP/1.1), until the client closes them, asks to
  (``Connection: close``, or HTTP/1.0), stays idle for :data:`IDLE_SECONDS`, or the server stops;
* the request head is read by this module, within bounds (:data:`MAX_REQUEST_LINE`,
  :data:`MAX_HEAD_BYTES`, :data:`MAX_HEADER_FIELDS`), and once a request has begun, no read of
  its head or body waits more than :data:`STALL_SECONDS`; whatever is malformed, too large or
  stalled gets a 4xx with the gateway's error body and a close, never a traceback or a hang;
* request bodies by ``Content-Length`` or ``Transfer-Encoding: chunked``, read by the app on
  demand through :class:`RequestBody`; ``Expect: 100-continue`` is answered only when the app
  starts reading, so a body the app refuses unread is never invited;
* each response leaves in one write (status line, headers and body), with ``TCP_NODELAY``, so
  Nagle's algorithm and a delayed ACK never hold back a second segment;
* an answer given before the body was read (413 for an announced oversized body, a 404 with a
  body, any early refusal) drains a small rest of the body (:data:`DRAIN_BYTES`) and keeps the
  connection, or else says ``Connection: close`` (once), closes its sending side and discards
  what the client still sends for a moment (:data:`LINGER_SECONDS`), so the client reads its
  answer instead of a reset and nobody waits on a connection that can no longer carry a request;
* :class:`~mrs_emulator.app.ConnectionDropped` from the app cuts the connection with no response.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

from mrs_emulator.app import MAX_BODY_BYTES, REPEATED_HEADERS_KEY, ConnectionDropped
from mrs_emulator.errors import ApiError, body_too_large, control_error, error_body, malformed_http
from mrs_emulator.routes import is_control_path

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

IDLE_SECONDS: Final = 120.0
"""How long an idle connection is kept; clients close theirs sooner (httpx after 5 s)."""
STALL_SECONDS: Final = 10.0
"""Once a request has begun, the longest wait for more of its head or body."""
MAX_REQUEST_LINE: Final = 8 * 1024
"""A longer request line is refused with 414 (the gateway: "URI too large")."""
MAX_HEAD_BYTES: Final = 64 * 1024
"""The header fields together, and a chunked body's trailers; more is refused with 494."""
MAX_HEADER_FIELDS: Final = 100
"""More header fields than this are refused with 494 (the gateway: "headers too large")."""
DRAIN_BYTES: Final = 64 * 1024
"""An unread rest of a body up to this size is read and discarded to keep the connection."""
DRAIN_SECONDS: Final = 0.2
"""How long that rest may take to arrive before the connection is closed instead."""
LINGER_SECONDS: Final = 2.0
"""After a close with an unread body, how long the client's remaining bytes are discarded."""
STOP_SECONDS: Final = 5.0
"""How long :meth:`EmulatorHTTPServer.stop` waits for connection threads to end."""
_MAX_LINE: Final = 65536
_HOP_BY_HOP: Final = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
_REASONS: Final = {494: "Request Header Too Large"}
"""Reason phrases of the gateway's statuses that the standard library does not know."""
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 token: methods and header names."""
_VERSION: Final = re.compile(r"HTTP/([0-9])\.([0-9])")
_NOT_IN_TARGET: Final = re.compile(r"[\x00-\x20\x7f-\xff]")
_NOT_IN_VALUE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CHUNK_SIZE: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS: Final = re.compile(r"[0-9]+")
_MAX_LENGTH_DIGITS: Final = 18
"""A Content-Length with more digits is over any limit; refused before int() meets it."""

_log = logging.getLogger("mrs_emulator.http")


class BodyError(ValueError):
    """The request body is cut short or its chunked framing is malformed."""


class RequestBody(io.RawIOBase):
    """``wsgi.input``: the body of one request, ending where it ends, never reading into the next."""

    def __init__(
        self,
        rfile: io.BufferedReader,
        *,
        length: int,
        chunked: bool,
        invite: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._rfile = rfile
        self.chunked = chunked
        self.length = length
        """The announced Content-Length (0 when chunked)."""
        self._left = length
        """Bytes left in the body (Content-Length) or in the current chunk (chunked)."""
        self.finished = not chunked and length == 0
        self.broken = False
        self._invite = invite
        """Sends ``100 Continue`` when the client waits for it: called at the first read, if any."""
        self._trailer_bytes = 0

    @property
    def uninvited(self) -> bool:
        """True while the client waits for a ``100 Continue`` that was not sent: it has sent no body."""
        return self._invite is not None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.finished or self.broken:
            return 0
        try:
            if self._invite is not None:
                invite, self._invite = self._invite, None
                invite()
            if self.chunked and self._left == 0 and not self._next_chunk():
                return 0
            data = self._rfile.read1(min(len(buffer), self._left))
            if not data:
                raise BodyError("the connection ended inside the request body")
            buffer[: len(data)] = data
            self._left -= len(data)
            if self._left == 0:
                if self.chunked:
                    self._chunk_end()
                else:
                    self.finished = True
        except (OSError, ValueError):
            self.broken = True
            raise
        return len(data)

    def _line(self) -> bytes:
        line = self._rfile.readline(_MAX_LINE + 1)
        if not line.endswith(b"\n") or len(line) > _MAX_LINE:
            raise BodyError("a chunk-size or trailer line is cut short or too long")
        return line

    def _next_chunk(self) -> bool:
        """Read the next chunk's size line; at the last chunk, its trailers too. False at the end."""
        size_text = self._line().split(b";", 1)[0].strip(b" \t\r\n")
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise BodyError("malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            while (line := self._line()) not in (b"\r\n", b"\n"):
                self._trailer_bytes += len(line)
                if self._trailer_bytes > MAX_HEAD_BYTES:
                    raise BodyError("the trailers are too large")
            self.finished = True
            return False
        self._left = size
        return True

    def _chunk_end(self) -> None:
        if self._rfile.read(2) != b"\r\n":
            raise BodyError("a chunk is not followed by CRLF")

    def drain(self, limit: int) -> bool:
        """Discard the unread rest if it is at most ``limit`` bytes; True when the body is then complete.

        A body the client holds back until ``100 Continue`` is not invited now: the answer is final.
        """
        if self.broken or self.uninvited:
            return False
        if not self.chunked and self._left > limit:
            return False
        discarded = 0
        try:
            while not self.finished:
                data = self.read(min(64 * 1024, limit + 1 - discarded))
                discarded += len(data)
                if not data or discarded > limit:
                    break
        except (OSError, ValueError):
            return False
        return self.finished


class _Refusal(Exception):
    """A request the server refuses itself (bad framing, sizes, a stall), before the app sees it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Vanished(Exception):
    """The client reset or closed the connection where nothing can be answered."""


class _ConnectionHandler(BaseHTTPRequestHandler):
    """One connection: requests one after the other, until either side ends it."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS
    wbufsize = 0  # each response is assembled first and sent with one sendall
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    # -- one request -------------------------------------------------------------------------------

    def handle_one_request(self) -> None:
        self.close_connection = True
        self.command, self.path, self.request_version, self.requestline = "", "", "HTTP/1.1", ""
        self.connection.settimeout(IDLE_SECONDS)
        try:
            if not self._reader().peek(1):  # the client closed, or the server is stopping
                return
        except OSError:  # idle timeout, reset, or the server stopping
            return
        self.connection.settimeout(STALL_SECONDS)  # a request has begun: it must keep coming
        try:
            self._read_head()
            body = self._body()
        except _Vanished:
            return
        except _Refusal as refusal:
            self.close_connection = True
            self._refuse(refusal)
            return
        self._serve(body)

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer with the gateway's error body, end our side, and discard what still comes."""
        path = self.path.split("?", 1)[0]
        error: ApiError
        if path.startswith("/") and is_control_path(unquote(path)):
            error = control_error(refusal.status, refusal.reason)
        else:
            error = malformed_http(refusal.status, refusal.reason)
        request_id = uuid.uuid4().hex
        headers = [("Content-Type", "application/json"), ("X-Request-Id", request_id)]
        self._write(refusal.status, headers, error_body(error, request_id))
        self._linger()

    # -- the head --------------------------------------------------------------------------------

    def _line(self, limit: int, too_long: _Refusal) -> bytes:
        try:
            line = self._reader().readline(limit + 1)
        except TimeoutError:
            stalled = f"Request timeout: the request head stopped arriving for {STALL_SECONDS:g} s"
            raise _Refusal(408, stalled) from None
        except OSError:
            raise _Vanished from None
        if len(line) > limit:
            raise too_long
        if not line.endswith(b"\n"):
            raise _Refusal(400, "Bad request: the request head is cut short")
        return line

    def _read_head(self) -> None:
        """Request line and header fields, checked as a strict gateway would; raises :class:`_Refusal`."""
        uri_too_long = _Refusal(
            414, f"Request-URI too large: the request line exceeds {MAX_REQUEST_LINE} bytes"
        )
        line = self._line(MAX_REQUEST_LINE, uri_too_long)
        for _ in range(4):  # a few empty lines before a request are tolerated (RFC 9112, 2.2)
            if line not in (b"\r\n", b"\n"):
                break
            line = self._line(MAX_REQUEST_LINE, uri_too_long)
        self.raw_requestline = line
        self.requestline = line.decode("latin-1").rstrip("\r\n")
        parts = self.requestline.split(" ")
        if len(parts) != 3:
            raise _Refusal(400, "Bad request: malformed request line")
        method, target, version = parts
        self.path = target
        found = _VERSION.fullmatch(version)
        if found is None:
            raise _Refusal(400, "Bad request: malformed HTTP version")
        if found.group(1) != "1":
            raise _Refusal(400, f"Bad request: HTTP version {version} is not supported; use HTTP/1.1")
        self.request_version = version
        if not _TOKEN.fullmatch(method):
            raise _Refusal(400, "Bad request: malformed method")
        self.command = method
        _check_target(target)
        self.headers = self._header_fields()
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            raise _Refusal(400, "Bad request: more than one Host header")
        if not hosts and version != "HTTP/1.0":
            raise _Refusal(400, "Bad request: an HTTP/1.1 request needs a Host header")
        tokens = {
            token.strip().lower()
            for value in self.headers.get_all("Connection") or []
            for token in value.split(",")
        }
        self.close_connection = version == "HTTP/1.0" or "close" in tokens  # HTTP/1.0 keep-alive: not here

    def _header_fields(self) -> HTTPMessage:
        head_too_large = _Refusal(
            494,
            f"Request header too large: at most {MAX_HEADER_FIELDS} fields and {MAX_HEAD_BYTES} bytes",
        )
        fields = HTTPMessage()
        used = 0
        while True:
            line = self._line(MAX_HEAD_BYTES - used, head_too_large)
            used += len(line)
            if line in (b"\r\n", b"\n"):
                return fields
            if len(fields) >= MAX_HEADER_FIELDS:
                raise head_too_large
            text = line.decode("latin-1").rstrip("\r\n")
            name, colon, value = text.partition(":")
            if not colon or not _TOKEN.fullmatch(name):  # also a folded line, which starts with a space
                raise _Refusal(400, "Bad request: malformed header field")
            value = value.strip(" \t")
            if _NOT_IN_VALUE.search(value):
                raise _Refusal(400, f"Bad request: a control character in the value of {name[:64]}")
            fields[name] = value  # appends: repeated fields stay separate

    def _body(self) -> RequestBody:
        coding = self.headers.get_all("Transfer-Encoding")
        lengths = self.headers.get_all("Content-Length") or []
        invite = self._invitation()
        if coding:
            codings = [part.strip().lower() for value in coding for part in value.split(",")]
            if codings != ["chunked"]:
                raise _Refusal(400, f"Bad request: unsupported Transfer-Encoding {', '.join(codings)[:64]}")
            if lengths:  # both framings: a smuggling attempt or a broken proxy; trust neither
                raise _Refusal(400, "Bad request: both Transfer-Encoding and Content-Length")
            return RequestBody(self._reader(), length=0, chunked=True, invite=invite)
        values = {value.strip() for value in lengths}
        if len(values) > 1 or not all(_DIGITS.fullmatch(value) for value in values):
            raise _Refusal(400, "Bad request: malformed Content-Length")
        length = values.pop() if values else "0"
        if len(length) > _MAX_LENGTH_DIGITS:
            raise _Refusal(413, body_too_large(MAX_BODY_BYTES).message)
        size = int(length)
        return RequestBody(self._reader(), length=size, chunked=False, invite=invite if size else None)

    def _invitation(self) -> Callable[[], None] | None:
        """``Expect: 100-continue``: the client sends its body after our ``100 Continue``, sent lazily."""
        expectations = [value.strip().lower() for value in self.headers.get_all("Expect") or []]
        if not expectations:
            return None
        if expectations != ["100-continue"]:
            raise _Refusal(417, "Expectation failed: only 100-continue is supported")
        if self.request_version == "HTTP/1.0":
            return None

        def send_continue() -> None:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

        return send_continue

    def _reader(self) -> io.BufferedReader:
        assert isinstance(self.rfile, io.BufferedReader)  # rbufsize -1: the socket file is buffered
        return self.rfile

    def _environ(self, body: RequestBody) -> WSGIEnvironment:
        target = self.path
        path, _, query = target.partition("?")
        if "://" in path:  # absolute-form target (sent to a proxy): the path is what routes
            path = urlsplit(path).path or "/"
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.input_terminated": True,  # the stream ends with the body, chunked or not
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": target,
            "REQUEST_URI": target,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
        }
        seen: set[str] = set()
        repeated: set[str] = set()
        for name, value in self.headers.items():
            lowered = name.lower()
            (repeated if lowered in seen else seen).add(lowered)
            key = name.upper().replace("-", "_")
            if key in {"CONTENT_LENGTH", "TRANSFER_ENCODING"}:
                continue
            if key != "CONTENT_TYPE":
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        environ[REPEATED_HEADERS_KEY] = frozenset(repeated)
        if not body.chunked and self.headers.get("Content-Length") is not None:
            environ["CONTENT_LENGTH"] = str(body.length)
        return environ

    def _serve(self, body: RequestBody) -> None:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        app: WSGIApplication = self.server.app
        try:
            chunks = app(self._environ(body), start_response)
            try:
                payload = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except ConnectionDropped:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, headers = started
        code, _, reason = status.partition(" ")
        complete = body.finished or self._drain(body)
        if not complete or self.server.stopping:
            self.close_connection = True
        self._write(int(code), headers, payload, reason=reason)
        if not complete:
            self._linger()

    def _drain(self, body: RequestBody) -> bool:
        self.connection.settimeout(DRAIN_SECONDS)
        try:
            return body.drain(DRAIN_BYTES)
        finally:
            with contextlib.suppress(OSError):
                self.connection.settimeout(STALL_SECONDS)

    def _write(
        self, code: int, headers: Iterable[tuple[str, str]], payload: bytes, *, reason: str = ""
    ) -> None:
        """Status line, headers and body in one write; ``Connection: close`` when this is the last one."""
        reason = reason or _REASONS.get(code) or self.responses.get(code, ("Error",))[0]
        lines = [f"{self.protocol_version} {code} {reason}"]
        lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP]
        lines += [
            f"Content-Length: {len(payload)}",
            f"Date: {self.date_time_string()}",
            "Server: mrs-emulator",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head if self.command == "HEAD" else head + payload)
        except OSError:
            self.close_connection = True

    def _linger(self) -> None:
        """End our side, then discard what the client still sends, so closing does not reset its read."""
        deadline = time.monotonic() + LINGER_SECONDS
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                if not self.connection.recv(64 * 1024):
                    break

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug(format, *args)


def _check_target(target: str) -> None:
    """Origin form (``/path?query``) or absolute form (``http://host/path``), visible ASCII only."""
    if _NOT_IN_TARGET.search(target):
        raise _Refusal(
            400, "Bad request: the request target holds a space, a control or a non-ASCII character"
        )
    if target.startswith("/"):
        return
    if target.startswith(("http://", "https://")):
        try:
            urlsplit(target)
        except ValueError:
            raise _Refusal(400, "Bad request: malformed request target") from None
        return
    raise _Refusal(400, "Bad request: the request target must be a path starting with '/'")


class EmulatorHTTPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Listens on ``(host, port)`` once built (else ``OSError``); serves from :meth:`serve_forever`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: WSGIApplication) -> None:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        assert isinstance(address[0], str)  # an IPv4 or IPv6 address, never AF_UNIX bytes
        self.address_family = family
        self.app = app
        self.stopping = False
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._lock = threading.Lock()
        super().__init__(address, _ConnectionHandler)

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections[connection] = threading.current_thread()

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.pop(connection, None)

    def stop(self) -> None:
        """Stop accepting, end idle connections, and wait (bounded) for the ones answering a request."""
        self.stopping = True
        self.shutdown()
        self.server_close()
        with self._lock:
            open_connections = dict(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD)  # a thread waiting for the next request sees the end
        deadline = time.monotonic() + STOP_SECONDS
        for thread in open_connections.values():
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection's failure is its own; it never reaches stderr as a traceback."""
        _log.debug("connection from %s failed", client_address, exc_info=True)
