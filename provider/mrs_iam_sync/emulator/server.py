"""Build the emulator, and serve it from a background thread of this process.

:func:`create_app` gives the WSGI app alone, for in-process tests
(``httpx.WSGITransport``); :func:`start_emulator` also serves it over a real
socket with werkzeug's threaded server and returns a handle that stops it.
The CLI is a thin layer over :func:`start_emulator`, so tests, the dev stack
and people all run the same code.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from types import TracebackType
from typing import Any, TypedDict, Unpack

from werkzeug.serving import (
    LISTEN_QUEUE,
    BaseWSGIServer,
    WSGIRequestHandler,
    get_sockaddr,
    make_server,
    select_address_family,
)

from mrs_iam_sync.emulator.app import EmulatorApp
from mrs_iam_sync.emulator.auth import Authenticator
from mrs_iam_sync.emulator.backend import EmulatorBackend
from mrs_iam_sync.emulator.clock import Clock
from mrs_iam_sync.emulator.context import EmulatorContext
from mrs_iam_sync.emulator.faults import FaultInjector
from mrs_iam_sync.emulator.options import (
    AllSyncWithNames,
    ConcurrentSync,
    EmptySync,
    EmulatorOptions,
    MissingClusterStatus,
    UnknownNames,
    parse_options,
)
from mrs_iam_sync.emulator.persistence import StateStore
from mrs_iam_sync.emulator.reqlog import DEFAULT_LIMIT, RequestLog
from mrs_iam_sync.emulator.seed import SeedSource, load_seed

_log = logging.getLogger("mrs_iam_sync.emulator")

DEFAULT_HOST = "127.0.0.1"
_POLL_SECONDS = 0.02
"""How often the serving loop checks for stop(); bounds how long stop() takes."""


class EmulatorConfig(TypedDict, total=False):
    """Everything that shapes an emulator, shared by :func:`create_app`, :func:`start_emulator` and the CLI.

    ``options`` gives all behaviour switches at once; the single-switch keys
    override it.  Omitted keys take the defaults of
    :class:`~.options.EmulatorOptions`.
    """

    seed: SeedSource
    state_file: str | os.PathLike[str] | None
    options: EmulatorOptions | None
    sync_seconds: float
    concurrent_sync: ConcurrentSync
    unknown_names: UnknownNames
    empty_sync: EmptySync
    all_sync_with_names: AllSyncWithNames
    missing_cluster_status: MissingClusterStatus
    max_clock_skew_seconds: float
    clock_offset_seconds: float
    request_log_size: int


_OPTION_KEYS = frozenset(EmulatorOptions.model_fields)


def create_app(**config: Unpack[EmulatorConfig]) -> EmulatorApp:
    """Load and validate the seed (and state file), and assemble the WSGI app.

    Raises :class:`~.seed.SeedError`, :class:`~.persistence.StateFileError`
    or :class:`~.options.OptionsError` with a one-line message.
    """
    base = config.get("options") or EmulatorOptions()
    overrides: dict[str, Any] = {key: value for key, value in config.items() if key in _OPTION_KEYS}
    options = parse_options({**base.model_dump(), **overrides}) if overrides else base
    seed = load_seed(config.get("seed"))
    clock = Clock(config.get("clock_offset_seconds", 0.0))
    state_file = config.get("state_file")
    store = StateStore(state_file) if state_file is not None else None
    context = EmulatorContext(
        backend=EmulatorBackend(seed, clock=clock, options=options, store=store),
        authenticator=Authenticator(seed, clock=clock),
        faults=FaultInjector(),
        requests=RequestLog(config.get("request_log_size", DEFAULT_LIMIT)),
        clock=clock,
    )
    return EmulatorApp(context)


class _QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its own access log; the app logs requests (and never their secrets)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log_error(self, format: str, *args: Any) -> None:
        _log.info("http: " + format, *args)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("http: " + format, *args)


def _listen(host: str, port: int) -> socket.socket:
    """Bind ourselves, so a busy port is an ``OSError`` here and not werkzeug's ``sys.exit``."""
    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(LISTEN_QUEUE)
    except BaseException:
        sock.close()
        raise
    return sock


class EmulatorHandle:
    """A running emulator; use as a context manager, or call :meth:`stop`."""

    def __init__(self, app: EmulatorApp, server: BaseWSGIServer, host: str) -> None:
        self.app = app
        self._server = server
        self.host = host
        self.port: int = server.port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="mrs-emulator",
            daemon=True,
        )
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._thread.start()

    @property
    def backend(self) -> EmulatorBackend:
        return self.app.context.backend

    @property
    def context(self) -> EmulatorContext:
        return self.app.context

    def reset(self) -> None:
        """Same as ``POST /_emulator/reset``."""
        self.app.context.reset()

    def stop(self) -> None:
        """Stop serving, wait for the server thread, save the state file. Safe to call twice."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.shutdown()
        self._thread.join()
        self.backend.save()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorHandle(url={self.url!r}, stopped={self._stopped})"


def start_emulator(
    *, host: str = DEFAULT_HOST, port: int = 0, **config: Unpack[EmulatorConfig]
) -> EmulatorHandle:
    """Serve a new emulator on ``host:port`` (0 picks a free port) from a daemon thread.

    Takes every key of :class:`EmulatorConfig`; ``handle.url`` has the real port.
    """
    app = create_app(**config)
    sock = _listen(host, port)
    try:
        server = make_server(
            host, port, app, threaded=True, request_handler=_QuietRequestHandler, fd=sock.fileno()
        )
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor
    return EmulatorHandle(app, server, host)
