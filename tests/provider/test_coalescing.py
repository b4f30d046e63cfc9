"""Calls waiting for one cluster share its tasks: one DELETE and one POST per round, one read-back.

The provider's methods are called from threads, as the dynamic-provider server calls them for
resources the engine runs in parallel, and the rounds are run by hand once the calls wait together
(``kit.process.run_together``), so how many tasks a burst costs never depends on the machine's
load; the emulator's task history and request log tell how many tasks and requests it took, and
each resource must still get its own verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kit.demo import PROJECT, demo_seed
from kit.emulator import LocalEmulator
from kit.process import run_together
from mrs_iam_sync.process import ProviderProcess
from mrs_iam_sync.provider import ClusterIamSyncProvider

from .conftest import CLUSTER, configure
from .helpers import checked, held


def tasks(emulator: LocalEmulator, cluster: str = CLUSTER) -> list[tuple[str, list[str], list[str]]]:
    state = emulator.backend.cluster_json(PROJECT, cluster)
    return [(task["kind"], task["users"], task["groups"]) for task in state["tasks"]]


def requests(emulator: LocalEmulator) -> list[tuple[str, str]]:
    """(method, what) of every API request: what is the path after the cluster id."""
    return [
        (entry["method"], entry["path"].split(f"/clusters/{CLUSTER}/", 1)[1])
        for entry in emulator.context.requests.entries()
    ]


@pytest.fixture
def slow_tasks(
    by_hand: ProviderProcess, provider: ClusterIamSyncProvider, emulator: LocalEmulator
) -> LocalEmulator:
    configure(provider, emulator)
    return emulator


def in_parallel(process: ProviderProcess, *calls: Callable[[], Any]) -> list[Any]:
    return run_together(process, *calls, pending=len(calls))


def test_creates_waiting_for_one_cluster_share_one_task_and_each_gets_its_own_outputs(
    provider, by_hand, slow_tasks
):
    configured = provider
    users = ["alice", "bob", "carol", "erin", "frank"]
    results = in_parallel(
        by_hand,
        *(
            (lambda user=user: configured.create(checked(configured, cluster_id=CLUSTER, user_names=[user])))
            for user in users
        ),
    )

    assert [result.outs["user_names"] for result in results] == [[user] for user in users]
    assert all(result.outs["synced_user_names"] == users for result in results)
    assert [task[:2] for task in tasks(slow_tasks)] == [("sync", users)]
    assert held(slow_tasks)[0] == users


def test_one_resources_policy_less_user_fails_only_that_resource_and_its_roll_back_takes_only_its_own(
    provider, by_hand, slow_tasks
):
    configured = provider

    def create(*users: str) -> Callable[[], Any]:
        return lambda: configured.create(checked(configured, cluster_id=CLUSTER, user_names=list(users)))

    first, failing, third = in_parallel(by_hand, create("alice"), create("dave", "frank"), create("bob"))

    assert first.outs["user_names"] == ["alice"] and third.outs["user_names"] == ["bob"]
    assert isinstance(failing, Exception)
    assert "did not arrive: users dave" in str(failing)
    assert "The principals this run did sync (frank) were cancelled again" in str(failing)
    assert held(slow_tasks)[0] == ["alice", "bob"]
    assert [task[:2] for task in tasks(slow_tasks)] == [
        ("sync", ["alice", "bob", "frank"]),  # the emulator's task skips dave: no MRS policy
        ("cancel", ["frank"]),
    ]


def test_a_user_one_round_syncs_for_one_resource_and_cancels_for_another_stays_synced(
    provider, by_hand, slow_tasks
):
    configured = provider
    (giver,) = in_parallel(
        by_hand,
        lambda: configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice", "bob"])),
    )
    slow_tasks.context.requests.clear()
    giver_news = checked(configured, cluster_id=CLUSTER, user_names=["bob"])
    taker_news = checked(configured, cluster_id=CLUSTER, user_names=["alice"])

    updated, created = in_parallel(
        by_hand,
        lambda: configured.update(giver.id, dict(giver.outs), giver_news),
        lambda: configured.create(taker_news),
    )

    assert updated.outs["user_names"] == ["bob"] and created.outs["user_names"] == ["alice"]
    assert held(slow_tasks)[0] == ["alice", "bob"]
    assert [task[0] for task in tasks(slow_tasks)] == ["sync"]


@pytest.fixture
def crowded_emulator(local_emulators: Callable[..., LocalEmulator]) -> LocalEmulator:
    """The demo world with 1,200 more users, all holding an MRS policy."""
    seed = demo_seed()
    seed["projects"][0]["iam"]["users"] += [
        {"name": f"u{index:04d}", "groups": [], "mrs_policy": True} for index in range(1200)
    ]
    return local_emulators(seed=seed, sync_seconds=0.05)


def test_more_than_a_thousand_names_in_one_round_are_split_into_tasks_of_at_most_a_thousand(
    provider: ClusterIamSyncProvider, by_hand: ProviderProcess, crowded_emulator: LocalEmulator
):
    configure(provider, crowded_emulator)
    halves = ([f"u{index:04d}" for index in range(600)], [f"u{index:04d}" for index in range(600, 1200)])

    results = in_parallel(
        by_hand,
        *(
            (lambda names=names: provider.create(checked(provider, cluster_id=CLUSTER, user_names=names)))
            for names in halves
        ),
    )

    assert [len(result.outs["user_names"]) for result in results] == [600, 600]
    assert [(kind, len(users)) for kind, users, _ in tasks(crowded_emulator)] == [
        ("sync", 1000),
        ("sync", 200),
    ]
    assert len(held(crowded_emulator)[0]) == 1200


def test_a_lone_create_costs_one_read_the_post_its_polls_and_one_read_back(configured, emulator):
    configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))

    sent = requests(emulator)
    polls = [call for call in sent if call == ("GET", "iam-sync")]
    assert sent == [
        ("GET", "iam-sync-user"),  # what is left to do, and what can be adopted without a task
        ("POST", "iam-sync-user"),
        *polls,
        ("GET", "iam-sync-user"),  # the read-back every waiting call judges from
        ("GET", "iam-sync/is-synchronous"),  # cluster_sync_complete, once per round
    ]
    assert 1 <= len(polls) <= 2


def test_adopting_what_is_synced_costs_no_task(configured, emulator):
    emulator.backend.patch_cluster(PROJECT, CLUSTER, synced_users=["alice"])
    configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    assert requests(emulator) == [("GET", "iam-sync-user"), ("GET", "iam-sync/is-synchronous")]


def test_a_refresh_costs_one_request(configured, emulator):
    created = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    emulator.context.requests.clear()
    configured.read(created.id, dict(created.outs))
    assert requests(emulator) == [("GET", "iam-sync-user")]


def test_a_delete_costs_one_read_the_delete_and_its_polls(configured, emulator):
    created = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    emulator.context.requests.clear()
    configured.delete(created.id, dict(created.outs))
    sent = requests(emulator)
    assert sent[:2] == [("GET", "iam-sync-user"), ("DELETE", "iam-sync-user")]
    assert set(sent[2:]) == {("GET", "iam-sync")}
