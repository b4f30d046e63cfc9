"""Case 6, waiting: how long after a 2-second sync task finishes does our code notice?

The emulator runs with ``sync_seconds`` 2 and records each task's ``finishes_at`` (epoch milliseconds,
same machine clock as ours), so the lag is measured from the real completion, not estimated:

* **client**: ``start_sync`` then ``wait_until_idle``; lag = the moment ``wait_until_idle`` returns -
  ``finishes_at``;
* **provider create**: ``ClusterIamSyncProvider.create`` of one resource (pre-read, idle check, POST,
  wait, read back); lag = the moment create returns - ``finishes_at``, so it also holds the two reads
  that follow the wait.

The floor is 0 (noticing at the instant of completion); what sets the lag is the polling schedule of
``wait_until_idle`` (its defaults are read from the code, and the expected lag is computed from them).
Each repetition uses a fresh cluster, so no cleanup task has to be waited for; the client and the
provider run side by side in two threads on different clusters (they sleep nearly all the time).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from case_calls import _provider_environment
from common import CLUSTER_COUNT, PROJECT_ID, Emulator, Row, cluster_id, median, provider_env, user_name

from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.coordinator import POLL_INITIAL_SECONDS, POLL_MAX_SECONDS, wait_until_idle
from mrs_iam_sync.models import ClusterAddress, UpdateSyncRequest
from mrs_iam_sync.settings import resolve_settings
from mrs_iam_sync.target import ClusterRef

CASE = "6 waiting"
TASK_SECONDS = 2.0


def poll_schedule() -> tuple[float, float]:
    """The polling schedule's (initial interval, cap), as the code has them now."""
    return POLL_INITIAL_SECONDS, POLL_MAX_SECONDS


def poll_times(task: float, initial: float, cap: float, factor: float = 2.0) -> list[float]:
    """When ``wait_until_idle``'s schedule polls (seconds after dispatch, request time taken as 0),
    up to the first poll that finds a ``task``-second task finished."""
    times, interval = [0.0], initial
    while times[-1] < task:
        times.append(times[-1] + interval)
        interval = min(interval * factor, cap)
    return times


def expected_lag(task: float, initial: float, cap: float, factor: float = 2.0) -> tuple[float, int]:
    """(lag, polls) of the schedule for a task of ``task`` seconds."""
    times = poll_times(task, initial, cap, factor)
    return times[-1] - task, len(times)


def _finished_at(emulator: Emulator, cluster: str) -> float:
    tasks = emulator.cluster(cluster)["tasks"]
    done = [t for t in tasks if t["kind"] == "sync"]
    return datetime.fromisoformat(done[-1]["finishes_at"].replace("Z", "+00:00")).timestamp()


def run(emulator: Emulator, *, repeats: int = 5) -> tuple[list[Row], dict[str, Any]]:
    from mrs_iam_sync.provider import ClusterIamSyncProvider  # noqa: PLC0415 - loads pulumi: only here

    if 2 * repeats > CLUSTER_COUNT:
        raise ValueError("one fresh cluster per measurement: at most 5 repeats with 10 clusters")
    emulator.reset(sync_seconds=TASK_SECONDS)
    client = MrsClient(resolve_settings(environ=provider_env(emulator.url)))
    provider = ClusterIamSyncProvider()
    client_lags: list[float] = []
    create_lags: list[float] = []
    polls: list[int] = []

    def with_client(index: int) -> None:
        cluster = cluster_id(2 * index)
        where = ClusterAddress.of(project_id=PROJECT_ID, cluster_id=cluster)
        body = UpdateSyncRequest.of(user_names=[user_name(2 * index)])
        client.update_sync_iam_user(where, body, budget=Budget(30))
        wait_until_idle(client, ClusterRef(emulator.url, where), budget=Budget(30), ours=True)
        client_lags.append(time.time() - _finished_at(emulator, cluster))

    def with_provider(index: int) -> None:
        cluster = cluster_id(2 * index + 1)
        inputs = provider.check({}, {"cluster_id": cluster, "user_names": [user_name(2 * index + 1)]}).inputs
        provider.create(dict(inputs))
        create_lags.append(time.time() - _finished_at(emulator, cluster))

    try:
        with _provider_environment(emulator.url):
            for index in range(repeats):
                emulator.clear_requests()
                threads = [threading.Thread(target=f, args=(index,)) for f in (with_client, with_provider)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                status_path = f"/clusters/{cluster_id(2 * index)}/iam-sync"
                polls.append(sum(1 for e in emulator.requests() if e["path"].endswith(status_path)))
        if len(client_lags) != repeats or len(create_lags) != repeats:
            raise RuntimeError("a waiting measurement failed (see the thread's traceback above)")
    finally:
        client.close()
        emulator.reset(sync_seconds=0)

    initial, cap = poll_schedule()
    lag, expected_polls = expected_lag(TASK_SECONDS, initial, cap)
    rows = [
        Row.compare(
            CASE,
            f"{TASK_SECONDS:g} s task: completion -> wait_until_idle returns (median of {repeats})",
            "s",
            median(client_lags),
            f"expected from the schedule ({initial:g} s doubling to {cap:g} s)",
            lag,
        ),
        Row(
            CASE,
            f"{TASK_SECONDS:g} s task: completion -> provider create returns (median of {repeats})",
            "s",
            median(create_lags),
            "floor (noticed at completion)",
            0.0,
            None,
        ),
        Row.compare(
            CASE,
            f"{TASK_SECONDS:g} s task: status polls by wait_until_idle",
            "polls",
            median(polls),
            "expected from the schedule",
            expected_polls,
        ),
    ]
    notes = {
        "client_lags": client_lags,
        "create_lags": create_lags,
        "polls": polls,
        "initial": initial,
        "cap": cap,
        "expected_lag": lag,
    }
    return rows, notes
