"""The emulator's notion of "now": the wall clock plus an offset that tests can move.

One clock serves both time-dependent behaviours, so they stay consistent:
the gateway's 15-minute ``X-Sdk-Date`` window, and the completion time of
sync tasks.  Setting the offset to a fixed vector's date makes that vector
"current"; moving it forward finishes running tasks without sleeping.

"Now" is kept between :data:`EARLIEST` and :data:`LATEST`: every time the
emulator shows is rendered as an ISO date and an ``X-Sdk-Date``, which a year
past 9999 cannot be, so an offset that would leave the range is refused
before anything changes instead of breaking every later request.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from typing import Final

EARLIEST: Final = 0.0
"""1970-01-01T00:00:00Z, the earliest "now" the emulator clock accepts."""
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC).timestamp()
"""9000-01-01T00:00:00Z, the latest "now": a task may finish long after it and still be rendered."""
LAST_RENDERABLE: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
"""The last instant :func:`iso_utc` can render; every stored time must be at or before it."""
RANGE_TEXT: Final = "from 1970-01-01T00:00:00Z to 9000-01-01T00:00:00Z"


class ClockRangeError(ValueError):
    """A requested time or offset would put "now" outside [:data:`EARLIEST`, :data:`LATEST`]."""


def checked_now(timestamp: float) -> float:
    """``timestamp`` when it is a finite time in the clock's range; raises :class:`ClockRangeError`."""
    if not math.isfinite(timestamp):
        raise ClockRangeError("must be a finite number")
    if not EARLIEST <= timestamp <= LATEST:
        raise ClockRangeError(f"the emulator clock must stay {RANGE_TEXT}")
    return timestamp


def checked_offset(offset_seconds: float) -> float:
    """``offset_seconds`` when the clock it gives is in range now; raises :class:`ClockRangeError`."""
    if not math.isfinite(offset_seconds):
        raise ClockRangeError("must be a finite number")
    checked_now(time.time() + offset_seconds)
    return offset_seconds


class Clock:
    """Thread-safe wall clock with an adjustable offset in seconds."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._offset = checked_offset(offset_seconds)

    @property
    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset

    def set_offset(self, offset_seconds: float) -> None:
        """Raises :class:`ClockRangeError`, leaving the clock as it was, for an offset out of range."""
        with self._lock:
            self._offset = checked_offset(offset_seconds)

    def set_now(self, timestamp: float) -> None:
        """Choose the offset that makes "now" equal ``timestamp`` (epoch seconds); range-checked too."""
        with self._lock:
            self._offset = checked_now(timestamp) - time.time()

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        return time.time() + self.offset_seconds

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)


def iso_utc(timestamp: float) -> str:
    """Render an epoch timestamp as ISO 8601 UTC with millisecond precision and a ``Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
