"""``coordinator.wait_until_idle``: polling a cluster's task within the call's Budget."""

from __future__ import annotations

from itertools import pairwise

import pytest

from mrs_iam_sync.budget import MIN_REQUEST_SECONDS, Budget
from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.coordinator import POLL_INITIAL_SECONDS, POLL_MAX_SECONDS, wait_until_idle
from mrs_iam_sync.errors import SyncTimeoutError
from mrs_iam_sync.target import ClusterRef

from .helpers import CLUSTER, ENDPOINT, WHERE, FakeClock, Script

CLUSTER_REF = ClusterRef(ENDPOINT, WHERE)


def _running(script: Script, *states: bool) -> None:
    for running in states:
        script.json("GET", "iam-sync", 200, {"is_synchronizing": running})


def test_wait_until_idle_polls_with_growing_interval(
    client: MrsClient, script: Script, clock: FakeClock, budget
):
    # Enough polls for the interval to double from its start up to its cap and stay there.
    _running(script, True, True, True, True, True, False)
    waited = wait_until_idle(client, CLUSTER_REF, budget=budget, ours=True)
    assert clock.sleeps[0] == POLL_INITIAL_SECONDS
    for before, after in pairwise(clock.sleeps):
        assert after == pytest.approx(min(2 * before, POLL_MAX_SECONDS))
    assert clock.sleeps[-2:] == [POLL_MAX_SECONDS, POLL_MAX_SECONDS]
    assert waited == pytest.approx(sum(clock.sleeps))


def test_wait_until_idle_returns_zero_when_already_idle(client: MrsClient, script: Script, clock: FakeClock):
    _running(script, False)
    assert (
        wait_until_idle(client, CLUSTER_REF, budget=Budget(10, monotonic=clock.monotonic), ours=True) == 0.0
    )


def test_wait_until_idle_times_out_naming_cluster_seconds_and_task_state(
    client: MrsClient, script: Script, clock: FakeClock
):
    _running(script, True, True, True, True)
    budget = Budget(1.0, monotonic=clock.monotonic)
    with pytest.raises(SyncTimeoutError) as caught:
        wait_until_idle(client, CLUSTER_REF, budget=budget, ours=True)
    assert clock.sleeps[:2] == [POLL_INITIAL_SECONDS, 2 * POLL_INITIAL_SECONDS]
    # The last poll is placed so that it still has time to be answered before the budget ends.
    assert len(script.received) == 4, "the poll that the last sleep left room for was never sent"
    assert script.received[-1].extensions["timeout"]["read"] >= MIN_REQUEST_SECONDS
    assert caught.value.cluster_id == CLUSTER
    assert budget.seconds - 2 * MIN_REQUEST_SECONDS <= caught.value.waited
    assert caught.value.waited <= budget.seconds - MIN_REQUEST_SECONDS + 1e-9
    message = str(caught.value)
    assert message.startswith(f"the sync task on cluster {CLUSTER} was still running after ")
    assert "(the cluster still reports is_synchronizing: true) when timeout_seconds ran out" in message


def test_waiting_for_another_task_says_ours_never_started(
    client: MrsClient, script: Script, clock: FakeClock
):
    _running(script, True, True, True)
    with pytest.raises(SyncTimeoutError, match=r"running another IAM-sync task .* was never started"):
        wait_until_idle(client, CLUSTER_REF, budget=Budget(0.5, monotonic=clock.monotonic), ours=False)
