"""``StatusBoard``: which statuses a waiting resource shows, when, and in what order (on a fake clock)."""

from __future__ import annotations

import pytest

from mrs_iam_sync.status import (
    QUIET_SECONDS,
    REFRESH_SECONDS,
    Awaited,
    ClusterWaits,
    StatusBoard,
    WaitEvent,
)

from .helpers import FakeClock

URN = "urn:pulumi:dev::mrs-iam-sync::pulumi-python:dynamic/mrs:ClusterIamSync::analytics"
OTHER = URN.replace("analytics", "streaming")
CLUSTER = "2b7e0000-analytics"


class Sent(list[tuple[str, str]]):
    def __call__(self, urn: str, text: str) -> None:
        self.append((urn, text))


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def board(clock: FakeClock, sent: Sent) -> StatusBoard:
    return StatusBoard(clock=clock.monotonic, send=sent)


def task(clock: FakeClock, awaited: Awaited = Awaited.SYNC_TASK, shared_by: int = 1) -> WaitEvent:
    return WaitEvent(CLUSTER, awaited, since=clock.now, shared_by=shared_by)


def test_a_wait_shorter_than_the_quiet_period_sends_nothing_not_even_a_clear(
    board: StatusBoard, clock: FakeClock, sent: Sent
) -> None:
    board.begin([URN], task(clock))
    clock.sleep(QUIET_SECONDS - 0.5)
    board.tick()
    board.end([URN])
    board.tick()

    assert sent == []


def test_a_long_wait_sends_its_state_once_refreshes_every_30_s_and_clears_when_it_ends(
    board: StatusBoard, clock: FakeClock, sent: Sent
) -> None:
    board.begin([URN], task(clock, shared_by=3))
    for _ in range(int(QUIET_SECONDS + REFRESH_SECONDS + 2)):
        clock.sleep(1)
        board.tick()
    board.end([URN])
    board.tick()

    first, refresh = int(QUIET_SECONDS), int(QUIET_SECONDS + REFRESH_SECONDS)
    assert sent == [
        (URN, f"waiting for the sync task on cluster {CLUSTER}: running {first} s, shared by 3 resources"),
        (URN, f"waiting for the sync task on cluster {CLUSTER}: running {refresh} s, shared by 3 resources"),
        (URN, ""),
    ]


def test_a_change_of_state_is_sent_at_the_next_tick(board: StatusBoard, clock: FakeClock, sent: Sent) -> None:
    waits = ClusterWaits(board, CLUSTER)
    waits.queued(URN)
    clock.sleep(QUIET_SECONDS)
    board.tick()
    clock.sleep(1)
    waits.task([URN], Awaited.FOREIGN_TASK, shared_by=1)
    clock.sleep(1)
    board.tick()
    waits.task([URN], Awaited.CANCEL_TASK, shared_by=2)
    board.tick()
    board.tick()

    assert sent == [
        (URN, f"queued for the next task on cluster {CLUSTER} (one at a time per cluster): waiting 3 s"),
        (URN, f"queued behind a task this stack did not start on cluster {CLUSTER}: waiting 1 s"),
        (URN, f"waiting for the cancel task on cluster {CLUSTER}: running 0 s, shared by 2 resources"),
    ]


def test_the_quiet_period_counts_from_the_first_wait_not_from_the_latest_state(
    board: StatusBoard, clock: FakeClock, sent: Sent
) -> None:
    board.begin([URN], task(clock, Awaited.NEXT_ROUND))
    clock.sleep(QUIET_SECONDS - 1)
    board.begin([URN], task(clock))
    clock.sleep(1)
    board.tick()

    assert sent == [(URN, f"waiting for the sync task on cluster {CLUSTER}: running 1 s")]


def test_a_change_reaches_only_resources_still_waiting(board: StatusBoard, clock: FakeClock, sent: Sent) -> None:
    board.begin([URN], task(clock, Awaited.NEXT_ROUND))
    board.end([URN])
    board.change([URN, OTHER, None], task(clock))
    clock.sleep(QUIET_SECONDS)
    board.tick()

    assert sent == []


def test_each_resource_has_its_own_row(board: StatusBoard, clock: FakeClock, sent: Sent) -> None:
    board.begin([URN], task(clock))
    clock.sleep(2)
    board.begin([OTHER, None], task(clock))
    clock.sleep(QUIET_SECONDS - 2)
    board.tick()
    board.end([URN])
    clock.sleep(2)
    board.tick()

    assert sent == [
        (URN, f"waiting for the sync task on cluster {CLUSTER}: running 3 s"),
        (URN, ""),
        (OTHER, f"waiting for the sync task on cluster {CLUSTER}: running 3 s"),
    ]


def test_minutes_are_shown_as_minutes(clock: FakeClock) -> None:
    event = task(clock)
    assert event.describe(clock.now + 119.9).endswith("running 119 s")
    assert event.describe(clock.now + 185).endswith("running 3 min 05 s")


def test_the_parallelism_hint_is_said_once_when_the_engine_limit_is_reached_while_calls_wait(
    clock: FakeClock, sent: Sent
) -> None:
    hints: list[str] = []
    in_flight = [8]
    board = StatusBoard(
        clock=clock.monotonic, send=sent, hint=hints.append, calls_in_flight=lambda: in_flight[0], engine_limit=8
    )
    board.tick()  # the limit is reached, but nothing waits yet
    board.begin([URN], task(clock))
    board.tick()  # waiting, but not for long
    in_flight[0] = 7
    clock.sleep(QUIET_SECONDS)
    board.tick()  # waiting long, below the limit
    in_flight[0] = 8
    board.tick()
    board.tick()

    assert len(hints) == 1
    assert "all 8 calls the Pulumi engine runs at once" in hints[0]
    assert "PULUMI_PARALLEL" in hints[0]


def test_a_board_without_an_engine_limit_never_hints(clock: FakeClock, sent: Sent) -> None:
    hints: list[str] = []
    board = StatusBoard(clock=clock.monotonic, send=sent, hint=hints.append, calls_in_flight=lambda: 1000)
    board.begin([URN], task(clock))
    clock.sleep(QUIET_SECONDS)
    board.tick()

    assert hints == []
