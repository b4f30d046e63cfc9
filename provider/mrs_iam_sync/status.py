"""What a lifecycle call waits for, shown next to its resource in ``pulumi up`` while it waits.

Real sync tasks take seconds to minutes; without a word, ``creating (45s)`` looks like a hang.
The :class:`StatusBoard` keeps one row per waiting resource (its URN) and sends the row's text as
the resource's status (``EngineLog.status``). Sending is paced for the non-interactive display of
CI logs, which prints the whole row again for each status: nothing for a wait shorter than
:data:`QUIET_SECONDS`, then one status whenever the state changes, and a refresh of the elapsed
time at most every :data:`REFRESH_SECONDS`; a wait that ends after a status was shown sends an
empty one, so the row does not keep a stale text.

The board holds no timer of its own: ``tick`` sends what is due at the injected clock's time. In
the provider process a daemon thread ticks it about once a second; tests tick it by hand.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from mrs_iam_sync.engine import EngineLog, calls_in_flight, engine_address, engine_parallel

logger = logging.getLogger("mrs_iam_sync.status")

QUIET_SECONDS: Final = 3.0
"""Waits shorter than this stay silent: most rounds with quick tasks end well within it."""
REFRESH_SECONDS: Final = 30.0
"""The elapsed time of an unchanged wait is sent again at most this often (each one is a log line in CI)."""
TICK_SECONDS: Final = 1.0


class Awaited(Enum):
    """What a call waits for; the value is how a status names it."""

    SYNC_TASK = "the sync task"
    CANCEL_TASK = "the cancel task"
    RUNNING_TASK = "the running task"
    """A task of an earlier round, awaited before deciding (a roll-back)."""
    FOREIGN_TASK = "a task this stack did not start"
    NEXT_ROUND = "the next task"
    """Queued while the cluster runs another round's task."""


def _elapsed(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole} s" if whole < 120 else f"{whole // 60} min {whole % 60:02d} s"


@dataclass(frozen=True)
class WaitEvent:
    """One state of a wait: a change of any field is a new state, worth a status of its own."""

    cluster_id: str
    awaited: Awaited
    since: float
    """Clock time this state began: the elapsed time a status reports."""
    shared_by: int = 1
    """How many resources wait for the same task."""

    def describe(self, now: float) -> str:
        where = f"on cluster {self.cluster_id}"
        elapsed = _elapsed(now - self.since)
        shared = f", shared by {self.shared_by} resources" if self.shared_by > 1 else ""
        if self.awaited is Awaited.FOREIGN_TASK:
            return f"queued behind {self.awaited.value} {where}: waiting {elapsed}{shared}"
        if self.awaited is Awaited.NEXT_ROUND:
            return f"queued for {self.awaited.value} {where} (one at a time per cluster): waiting {elapsed}"
        return f"waiting for {self.awaited.value} {where}: running {elapsed}{shared}"


@dataclass
class _Row:
    event: WaitEvent
    began: float
    """When this resource began waiting at all (the quiet period counts from here, across states)."""
    shown: WaitEvent | None = None
    shown_at: float = 0.0


def _hint_text(limit: int) -> str:
    return (
        f"all {limit} calls the Pulumi engine runs at once are in this provider, waiting for IAM-sync "
        "tasks; resources the engine holds back until one returns will need tasks of their own. "
        "Raising PULUMI_PARALLEL (to at least the number of resources in the stack) lets them share "
        "one task per cluster (see the README, 'Parallelism')"
    )


class StatusBoard:
    """The waits of one provider process, by URN; every method may be called from any thread."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        send: Callable[[str, str], None],
        hint: Callable[[str], None] = lambda _text: None,
        calls_in_flight: Callable[[], int] = lambda: 0,
        engine_limit: int | None = None,
    ) -> None:
        """``send(urn, text)`` shows a status ("" clears it); ``hint`` is said at most once, when
        ``calls_in_flight()`` reached ``engine_limit`` (None: never) while a wait went on."""
        self._clock = clock
        self._send = send
        self._hint = hint
        self._calls_in_flight = calls_in_flight
        self._engine_limit = engine_limit
        self._hinted = False
        # Sends happen under the lock too: a clear must never be overtaken by the status it clears.
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}

    def now(self) -> float:
        return self._clock()

    def begin(self, urns: Iterable[str | None], event: WaitEvent) -> None:
        """These resources wait, or wait for something else now; a None URN (no engine) is skipped."""
        now = self._clock()
        with self._lock:
            for urn in filter(None, urns):
                row = self._rows.get(urn)
                if row is None:
                    self._rows[urn] = _Row(event, began=now)
                else:
                    row.event = event

    def change(self, urns: Iterable[str | None], event: WaitEvent) -> None:
        """Like ``begin``, for resources still waiting only: a call that gave up must not reappear."""
        with self._lock:
            for urn in filter(None, urns):
                if (row := self._rows.get(urn)) is not None:
                    row.event = event

    def end(self, urns: Iterable[str | None]) -> None:
        """These resources stopped waiting; a status shown for them is cleared at once."""
        with self._lock:
            for urn in filter(None, urns):
                row = self._rows.pop(urn, None)
                if row is not None and row.shown is not None:
                    self._send(urn, "")

    def tick(self) -> None:
        """Send every status that is due now."""
        now = self._clock()
        with self._lock:
            for urn, row in self._rows.items():
                if now - row.began < QUIET_SECONDS:
                    continue
                if row.shown != row.event or now - row.shown_at >= REFRESH_SECONDS:
                    self._send(urn, row.event.describe(now))
                    row.shown, row.shown_at = row.event, now
            if self._hinted or self._engine_limit is None:
                return
            waiting = any(now - row.began >= QUIET_SECONDS for row in self._rows.values())
            if waiting and self._calls_in_flight() >= self._engine_limit:
                self._hinted = True
                self._hint(_hint_text(self._engine_limit))

    def tick_forever(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        """The loop of the provider process's status thread."""
        while True:
            sleep(TICK_SECONDS)
            try:
                self.tick()
            except Exception:  # a status is a courtesy; the thread must outlive any failure
                logger.debug("status tick failed", exc_info=True)


def process_board() -> StatusBoard:
    """A board sending to the engine that started this process, ticked by a daemon thread.

    Outside Pulumi's dynamic-provider server (tests, tools) there is no engine: the board then
    only keeps its rows, and no thread is started.
    """
    address = engine_address()
    log = EngineLog(address)
    board = StatusBoard(
        clock=time.monotonic,
        send=log.status,
        hint=lambda text: log.warning(f"mrs-iam-sync: {text}"),
        calls_in_flight=calls_in_flight,
        engine_limit=engine_parallel(),
    )
    if address is not None:
        threading.Thread(target=board.tick_forever, name="mrs-iam-sync status", daemon=True).start()
    return board


class ClusterWaits:
    """One cluster's waits as its coordinator reports them, kept to three calls it can make anywhere."""

    def __init__(self, board: StatusBoard, cluster_id: str) -> None:
        self.board = board
        self.cluster_id = cluster_id

    def queued(self, urn: str | None) -> None:
        """A call joined the queue of the cluster's next round."""
        self.board.begin([urn], WaitEvent(self.cluster_id, Awaited.NEXT_ROUND, since=self.board.now()))

    def task(self, urns: Iterable[str | None], awaited: Awaited, *, shared_by: int) -> None:
        """The round of these calls now waits for a task."""
        event = WaitEvent(self.cluster_id, awaited, since=self.board.now(), shared_by=shared_by)
        self.board.change(urns, event)

    def ended(self, urn: str | None) -> None:
        self.board.end([urn])
