"""The Pulumi engine as the provider process can reach it: which resource a call serves, and its log.

Pulumi's Python SDK gives a dynamic provider's methods only properties, and its process no engine
connection, yet a status line next to a resource in ``pulumi up`` needs both: the engine's ``Log``
call with the resource's URN and ``ephemeral`` set. Both are within reach without patching Pulumi:

* the URN is the ``request.urn`` of the servicer method (``Create``, ``Update``, ...) of
  ``pulumi/dynamic/__main__.py`` that runs further up the calling thread's stack;
* the engine starts every resource plugin with its gRPC address as the first argument.

Where either is missing (a test, an official server built otherwise, an engine that went away),
nothing is sent and nothing fails: status lines are a courtesy, the resource works without them.
Checked against the server of the pinned SDK and of 3.150.0, the oldest 3.x this project supports.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from types import CodeType, FrameType
from typing import Any, Final

logger = logging.getLogger("mrs_iam_sync.engine")

SERVER_MODULE: Final = ("pulumi", "dynamic", "__main__.py")
"""The file of Pulumi's dynamic-provider server, as the last parts of its path."""
LIFECYCLE_METHODS: Final = frozenset({"Check", "Diff", "Create", "Read", "Update", "Delete"})
"""The servicer methods whose ``request`` names a resource (``urn``)."""
LOG_TIMEOUT_SECONDS: Final = 2.0
"""The engine answers a Log at once; a slower answer means it is gone or stuck, not busy."""


def is_server_code(code: CodeType, name: str | None = None) -> bool:
    """``code`` is a function of Pulumi's dynamic-provider server (named ``name``, when given)."""
    return PurePath(code.co_filename).parts[-3:] == SERVER_MODULE and name in (None, code.co_name)


def _servicer_frame(frame: FrameType | None) -> FrameType | None:
    while frame is not None:
        if frame.f_code.co_name in LIFECYCLE_METHODS and is_server_code(frame.f_code):
            return frame
        frame = frame.f_back
    return None


def current_urn() -> str | None:
    """The URN of the resource whose lifecycle call runs on this thread; None outside one.

    Call it on the thread the server handed the call to: a coordinator's worker thread serves
    several calls and has none of them on its stack.
    """
    frame = _servicer_frame(sys._getframe(1))
    urn = getattr(frame.f_locals.get("request"), "urn", None) if frame is not None else None
    return urn if isinstance(urn, str) and urn else None


def calls_in_flight() -> int:
    """How many lifecycle calls the server is running now: threads with a servicer method on the stack."""
    return sum(_servicer_frame(frame) is not None for frame in sys._current_frames().values())


def engine_parallel(environ: Mapping[str, str] = os.environ) -> int:
    """How many steps the engine runs at once unless ``--parallel`` says otherwise.

    The engine's own default: ``PULUMI_PARALLEL`` when set, else four per CPU. A ``--parallel``
    flag is invisible from here, so this is what a run without one gets.
    """
    configured = environ.get("PULUMI_PARALLEL", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return 4 * (os.cpu_count() or 1)


def engine_address(argv: Sequence[str] = sys.argv) -> str | None:
    """The engine's gRPC address, when this process is Pulumi's dynamic-provider server."""
    if len(argv) > 1 and PurePath(argv[0]).parts[-3:] == SERVER_MODULE and argv[1]:
        return argv[1]
    return None


class EngineLog:
    """Messages to the engine's ``Log``, over a channel opened at the first message.

    Never raises: without an address, or once a message failed, it drops everything, saying so
    once at debug level (a failing engine would fail every later message the same way).
    """

    def __init__(self, address: str | None) -> None:
        self._address = address
        self._lock = threading.Lock()
        self._stub: Any = None
        self._given_up = address is None

    def status(self, urn: str, message: str) -> None:
        """Show ``message`` as the resource's status in the progress display ("" clears it)."""
        self._send(message, urn=urn, ephemeral=True, warning=False)

    def warning(self, message: str) -> None:
        """A warning of the whole deployment, kept in the diagnostics at the end."""
        self._send(message, urn="", ephemeral=False, warning=True)

    def _send(self, message: str, *, urn: str, ephemeral: bool, warning: bool) -> None:
        with self._lock:
            if self._given_up:
                return
            try:
                from pulumi.runtime.proto import engine_pb2  # noqa: PLC0415 - only in the provider process

                stub = self._stub or self._connect()
                severity = engine_pb2.WARNING if warning else engine_pb2.INFO
                request = engine_pb2.LogRequest(
                    severity=severity, message=message, urn=urn, ephemeral=ephemeral
                )
                stub.Log(request, timeout=LOG_TIMEOUT_SECONDS)
            except Exception as exc:  # any failure at all: the resource must keep working
                self._given_up = True
                logger.debug("no status messages to the engine at %s: %s", self._address, exc)

    def _connect(self) -> Any:
        import grpc  # noqa: PLC0415 - only in the provider process
        from pulumi.runtime.proto import engine_pb2_grpc  # noqa: PLC0415

        self._stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(self._address or ""))
        return self._stub
