"""The emulator's HTTP/1.1 server: keep-alive connections, one thread each, serving the WSGI app.

Why not werkzeug's development server: it answers every request with ``Connection: close`` and
cannot keep a connection open, so every client would pay a TCP connect per request; a client
such as the provider, which pools its connections, would never reuse one.  This server is the
standard library's ``http.server`` request parsing with what the emulator needs around it:

* connections stay open between requests (HTTP/1.1), until the client closes them, asks to
  (``Connection: close``, or HTTP/1.0), stays idle for :data:`IDLE_SECONDS`, or the server stops;
* request bodies by ``Content-Length`` or ``Transfer-Encoding: chunked``, read by the app on
  demand through :class:`RequestBody`;
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
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

from mrs_emulator.app import ConnectionDropped

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

IDLE_SECONDS: Final = 120.0
"""How long an idle connection is kept; clients close theirs sooner (httpx after 5 s)."""
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

_log = logging.getLogger("mrs_emulator.http")


class BodyError(ValueError):
    """The request body is cut short or its chunked framing is malformed."""


class RequestBody(io.RawIOBase):
    """``wsgi.input``: the body of one request, ending where it ends, never reading into the next."""

    def __init__(self, rfile: io.BufferedReader, *, length: int, chunked: bool) -> None:
        super().__init__()
        self._rfile = rfile
        self.chunked = chunked
        self.length = length
        """The announced Content-Length (0 when chunked)."""
        self._left = length
        """Bytes left in the body (Content-Length) or in the current chunk (chunked)."""
        self.finished = not chunked and length == 0
        self.broken = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.finished or self.broken:
            return 0
        try:
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
        size_text = self._line().split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BodyError(f"malformed chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise BodyError("negative chunk size")
        if size == 0:
            while self._line() not in (b"\r\n", b"\n"):
                pass
            self.finished = True
            return False
        self._left = size
        return True

    def _chunk_end(self) -> None:
        if self._rfile.read(2) != b"\r\n":
            raise BodyError("a chunk is not followed by CRLF")

    def drain(self, limit: int) -> bool:
        """Discard the unread rest if it is at most ``limit`` bytes; True when the body is then complete."""
        if self.broken:
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
    """A request the server refuses itself (bad framing), before the app sees it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


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

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(_MAX_LINE + 1)
        except OSError:  # idle timeout, reset, or the server stopping
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > _MAX_LINE:
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():  # it has answered (400, 431, 505...) and decided to close
            return
        if self.request_version != "HTTP/1.1":
            self.close_connection = True  # HTTP/1.0 keep-alive is not worth its rules here
        try:
            body = self._body()
        except _Refusal as refusal:
            self.close_connection = True
            self._write(refusal.status, [("Content-Type", "text/plain")], refusal.reason.encode())
            self._linger()  # whatever body came is unread
            return
        self._serve(body)

    def handle_expect_100(self) -> bool:
        self.send_response_only(100)
        self.end_headers()
        return True

    def _body(self) -> RequestBody:
        coding = self.headers.get_all("Transfer-Encoding")
        lengths = self.headers.get_all("Content-Length") or []
        if coding:
            codings = [part.strip().lower() for value in coding for part in value.split(",")]
            if codings != ["chunked"]:
                raise _Refusal(501, f"unsupported Transfer-Encoding {', '.join(codings)}")
            if lengths:  # both framings: a smuggling attempt or a broken proxy; trust neither
                raise _Refusal(400, "both Transfer-Encoding and Content-Length")
            return RequestBody(self._reader(), length=0, chunked=True)
        values = {value.strip() for value in lengths}
        if len(values) > 1 or not all(value.isdigit() for value in values):
            raise _Refusal(400, "malformed Content-Length")
        return RequestBody(self._reader(), length=int(values.pop()) if values else 0, chunked=False)

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
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
                continue
            if key in {"CONTENT_LENGTH", "TRANSFER_ENCODING"}:
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if not body.chunked:
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
                self.connection.settimeout(self.timeout)

    def _write(
        self, code: int, headers: Iterable[tuple[str, str]], payload: bytes, *, reason: str = ""
    ) -> None:
        """Status line, headers and body in one write; ``Connection: close`` when this is the last one."""
        reason = reason or self.responses.get(code, ("",))[0]
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
