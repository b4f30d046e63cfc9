"""The emulator's WSGI app behind a server that keeps connections open: the floor case 1 needs.

``mrs-emulator`` serves with werkzeug's development server, which answers every request with
``Connection: close`` and, after each response, drains the socket with a blocking read: werkzeug 3
cannot keep a connection alive at all. Against the stock emulator no client can reuse a connection,
and every call pays a TCP connect and close on both sides. Case 1 is specified on a reused
connection, so it also runs against this host: the very same app (``create_app`` with the same seed
and options) behind a small HTTP/1.1 server from the standard library (``http.server``, one thread
per connection, like werkzeug's threaded server) that keeps each connection open until the client
closes it.

Bench-only: it reads bodies by Content-Length and does not support chunked uploads, which no client
the bench drives sends.

Usage: ``python bench/keepalive_emulator.py --seed FILE --sync-seconds S`` prints
``keepalive-emulator listening on http://127.0.0.1:PORT`` and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import io
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from mrs_iam_sync.emulator import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment


class KeepAliveWsgiHandler(BaseHTTPRequestHandler):
    """One HTTP/1.1 request -> one WSGI call; the connection stays open for the next request."""

    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024
    """Buffered: status line, headers and body leave in one write (flushed after each request), so the
    response is not split into two segments that Nagle's algorithm and a delayed ACK hold back ~40 ms."""
    app: WSGIApplication  # set on the subclass made by serve()

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _environ(self, body: bytes) -> WSGIEnvironment:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[0], self.server.server_address[1]  # type: ignore[index]
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,  # the emulator verifies signatures against the raw request target
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(len(body)) if body else "",
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in {"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"}:
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        chunks = self.app(self._environ(body), start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status, headers = started
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(app: WSGIApplication) -> ThreadingHTTPServer:
    handler = type("Handler", (KeepAliveWsgiHandler,), {"app": staticmethod(app)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description="the emulator app behind a keep-alive HTTP/1.1 server")
    parser.add_argument("--seed", required=True)
    parser.add_argument("--sync-seconds", type=float, default=0.0)
    args = parser.parse_args()
    server = serve(create_app(seed=args.seed, sync_seconds=args.sync_seconds))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    print(f"keepalive-emulator listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    stop.wait()
    server.shutdown()
    thread.join()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
