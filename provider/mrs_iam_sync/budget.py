"""``Budget``: the one time budget of an operation, handed explicitly to everything that may wait.

A resource's ``timeout_seconds`` becomes one Budget per lifecycle call; every HTTP request, every
retry and every poll of that call draws on it, so nothing inside can outlive it, and whatever
ends up waiting when it runs out can say so in its own words.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

MIN_REQUEST_SECONDS: Final = 0.05
"""Less than this left, a request could not be answered: stop and say why instead of sending it."""


class Budget:
    """Seconds granted at creation, measured on an injectable monotonic clock."""

    def __init__(self, seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.monotonic = monotonic
        self.ends_at = monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends_at - self.monotonic())

    def can_afford_a_request(self) -> bool:
        return self.remaining() >= MIN_REQUEST_SECONDS

    def __repr__(self) -> str:
        return f"Budget(seconds={self.seconds:g}, remaining={self.remaining():.3f})"
