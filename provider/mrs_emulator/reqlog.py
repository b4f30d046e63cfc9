"""The request log: what reached the emulated API, for tests to assert on (``GET /_emulator/requests``).

An entry holds the method, the path without its query, the status, the
error code, the time, the duration and the authentication scheme tried.  It
never holds headers, bodies, credentials or signatures, so a log can be
printed in a CI transcript.  Control-API calls are not recorded.  The log is
a ring buffer: past its size, the oldest entries are dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Final

DEFAULT_LIMIT: Final = 10_000


@dataclass(frozen=True)
class LogEntry:
    method: str
    path: str
    status: int | None
    """``None`` when the connection was dropped by a fault: no response was sent."""
    error_code: str | None
    time: str
    duration_ms: float
    auth: str
    request_id: str
    fault: str | None = None
    """The id of the terminal fault (throttle, server_error, drop) that shaped the answer, if any."""


class RequestLog:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the request log needs room for at least one entry")
        self._lock = threading.Lock()
        self._entries: deque[LogEntry] = deque(maxlen=limit)

    @property
    def limit(self) -> int:
        return self._entries.maxlen or 0

    def record(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
