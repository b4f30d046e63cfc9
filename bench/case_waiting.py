"""Case 6, waiting: how long after a 2 s task ends do the client's wait and the provider's create notice?
The lag is measured from the task's real end (its ``finishes_at`` in the emulator's task history)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Final

from common import CLUSTERS, PROJECT_ID, USERS, Row, median, provider_env, provider_in_process

from kit.emulator import EmulatorProcess
from mrs_iam_sync.budget import Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.coordinator import POLL_INITIAL_SECONDS, POLL_MAX_SECONDS, wait_until_idle
from mrs_iam_sync.models import ClusterAddress, UpdateSyncRequest
from mrs_iam_sync.settings import resolve_settings
from mrs_iam_sync.target import ClusterRef

if TYPE_CHECKING:
    from mrs_iam_sync.provider import ClusterIamSyncProvider

TASK_SECONDS: Final = 2.0
EXPECTED: Final = (
    f"expected from the schedule ({POLL_INITIAL_SECONDS:g} s doubling to {POLL_MAX_SECONDS:g} s)"
)


def poll_times(task: float) -> list[float]:
    """When ``wait_until_idle`` polls (s after the dispatch, requests taking no time), up to the first
    poll that finds a ``task``-second task ended."""
    times, interval = [0.0], POLL_INITIAL_SECONDS
    while times[-1] < task:
        times.append(times[-1] + interval)
        interval = min(interval * 2, POLL_MAX_SECONDS)
    return times


def expected_polls(task: float) -> int:
    return len(poll_times(task))


def _lag(emulator: EmulatorProcess, cluster: str) -> float:
    """Seconds from the end of the cluster's last sync task until now."""
    task = [t for t in emulator.cluster(cluster)["tasks"] if t["kind"] == "sync"][-1]
    return time.time() - datetime.fromisoformat(task["finishes_at"].replace("Z", "+00:00")).timestamp()


def run(emulator: EmulatorProcess, *, repeats: int = 5) -> list[Row]:
    emulator.reset(sync_seconds=TASK_SECONDS)
    client = MrsClient(resolve_settings(environ=provider_env(emulator.url)))

    def with_client(index: int) -> float:
        where = ClusterAddress.of(project_id=PROJECT_ID, cluster_id=CLUSTERS[index])
        client.update_sync_iam_user(where, UpdateSyncRequest.of(user_names=[USERS[index]]), budget=Budget(30))
        wait_until_idle(client, ClusterRef(emulator.url, where), budget=Budget(30), ours=True)
        return _lag(emulator, CLUSTERS[index])

    def with_provider(provider: ClusterIamSyncProvider, index: int) -> float:
        inputs = provider.check({}, {"cluster_id": CLUSTERS[index], "user_names": [USERS[index]]}).inputs
        provider.create(dict(inputs))
        return _lag(emulator, CLUSTERS[index])

    lags: list[tuple[float, float]] = []
    polls: list[int] = []
    with provider_in_process(emulator.url) as provider, client, ThreadPoolExecutor(2) as pool:
        for index in range(0, 2 * repeats, 2):  # two fresh clusters per repetition, side by side
            emulator.clear_log()
            waits = pool.submit(with_client, index), pool.submit(with_provider, provider, index + 1)
            lags.append((waits[0].result(), waits[1].result()))
            status = f"/clusters/{CLUSTERS[index]}/iam-sync"
            polls.append(sum(entry["path"].endswith(status) for entry in emulator.log()))
    waited, created = (median(column) for column in zip(*lags, strict=True))
    times, row = poll_times(TASK_SECONDS), partial(Row, "6 waiting")
    lag = f"{TASK_SECONDS:g} s task: completion -> {{}} returns (median of {repeats})"
    polled = f"{TASK_SECONDS:g} s task: status polls by wait_until_idle"
    return [
        row(lag.format("wait_until_idle"), "s", waited, EXPECTED, times[-1] - TASK_SECONDS),
        row(lag.format("provider create"), "s", created, "floor (noticed at completion)", 0.0),
        row(polled, "polls", median(polls), EXPECTED, len(times)),
    ]
