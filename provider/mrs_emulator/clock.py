"""The emulator's notion of "now": the wall clock plus an offset that tests can move.

One clock serves both time-dependent behaviours, so they stay consistent:
the gateway's 15-minute ``X-Sdk-Date`` window, and the completion time of
sync tasks.  Setting the offset to a fixed vector's date makes that vector
"current"; moving it forward finishes running tasks without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Thread-safe wall clock with an adjustable offset in seconds."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._offset = offset_seconds

    @property
    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset

    def set_offset(self, offset_seconds: float) -> None:
        with self._lock:
            self._offset = offset_seconds

    def set_now(self, timestamp: float) -> None:
        """Choose the offset that makes "now" equal ``timestamp`` (epoch seconds)."""
        with self._lock:
            self._offset = timestamp - time.time()

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        return time.time() + self.offset_seconds

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)


def iso_utc(timestamp: float) -> str:
    """Render an epoch timestamp as ISO 8601 UTC with millisecond precision and a ``Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
