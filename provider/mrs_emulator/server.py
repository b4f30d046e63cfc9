"""Build the emulator from its options, and serve it from a background thread of this process.

:func:`create_app` gives the WSGI app alone, for in-process tests
(``httpx.WSGITransport``); :func:`start_emulator` also serves it over a real
socket (:mod:`~mrs_emulator.wsgi_server`, keep-alive HTTP/1.1) and returns a
handle that stops it.  Both take one :class:`~.options.EmulatorOptions`, or
its fields as keywords, or both (the keywords win).  The CLI is a thin layer
over :func:`start_emulator`, so tests, the dev stack and people all run the
same code.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any

from mrs_emulator.app import EmulatorApp
from mrs_emulator.auth import Authenticator
from mrs_emulator.backend import EmulatorBackend, StateNotSaved
from mrs_emulator.clock import Clock
from mrs_emulator.context import EmulatorContext
from mrs_emulator.faults import FaultInjector
from mrs_emulator.options import EmulatorOptions, options_from
from mrs_emulator.persistence import StateStore
from mrs_emulator.reqlog import RequestLog
from mrs_emulator.seed import load_seed
from mrs_emulator.wsgi_server import EmulatorHTTPServer

_POLL_SECONDS = 0.02
"""How often the serving loop checks for stop(); bounds how long stop() takes."""

_log = logging.getLogger("mrs_emulator")


def create_app(options: EmulatorOptions | None = None, /, **changes: Any) -> EmulatorApp:
    """Load and validate the seed (and state file), and assemble the WSGI app.

    ``changes`` are :class:`~.options.EmulatorOptions` fields on top of ``options``
    (or the defaults).  Raises :class:`~.seed.SeedError`,
    :class:`~.persistence.StateFileError` or :class:`~.options.OptionsError`
    with a one-line message.  With a state file, the app holds the file's lock
    until :meth:`~.app.EmulatorApp.close` (or the end of a ``with`` block).
    """
    options = options_from(options, changes)
    seed = load_seed(options.seed)
    clock = Clock(options.clock_offset_seconds)
    store = StateStore.open(options.state_file) if options.state_file is not None else None
    try:
        backend = EmulatorBackend(seed, clock=clock, options=options, store=store)
    except BaseException:
        if store is not None:
            store.close()
        raise
    context = EmulatorContext(
        backend=backend,
        authenticator=Authenticator(seed, clock=clock),
        faults=FaultInjector(),
        requests=RequestLog(options.request_log_size),
        clock=clock,
    )
    return EmulatorApp(context)


class EmulatorHandle:
    """A running emulator; use as a context manager, or call :meth:`stop`."""

    def __init__(self, app: EmulatorApp, server: EmulatorHTTPServer, host: str) -> None:
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
        """Stop serving, end the connections, save the state file and release it. Safe to call twice.

        Never raises for the state file: every acknowledged change was saved when it was made, so
        a last save that fails loses nothing; it is logged as a warning.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.stop()
        self._thread.join()
        try:
            self.backend.save()
        except StateNotSaved as exc:
            _log.warning("the state file was not saved on stop (it holds every acknowledged change): %s", exc)
        finally:
            self.app.close()

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


def start_emulator(options: EmulatorOptions | None = None, /, **changes: Any) -> EmulatorHandle:
    """Serve a new emulator on ``options.host:options.port`` (port 0, the default here, picks a free one).

    Takes what :func:`create_app` takes; ``handle.url`` has the real port.
    Raises ``OSError`` when the address cannot be bound.
    """
    options = options_from(options, changes)
    app = create_app(options)
    try:
        server = EmulatorHTTPServer(options.host, options.port, app)
    except BaseException:
        app.close()
        raise
    return EmulatorHandle(app, server, options.host)
