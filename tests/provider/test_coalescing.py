"""Calls waiting for one cluster share its tasks: one DELETE and one POST per round, one read-back.

The provider's methods are called from threads, as the dynamic-provider server calls them for
resources the engine runs in parallel; the emulator's task history and request log tell how many
tasks and requests it took, and each resource must still get its own verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from kit.demo import PROJECT, demo_seed
from kit.emulator import LocalEmulator
from mrs_iam_sync.provider import ClusterIamSyncProvider

from .conftest import CLUSTER, configure
from .helpers import checked, held


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once; return each result or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


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
def slow_tasks(emulator: LocalEmulator) -> LocalEmulator:
    emulator.update_settings(sync_seconds=0.5)
    return emulator


def test_creates_waiting_for_one_cluster_share_one_task_and_each_gets_its_own_outputs(configured, slow_tasks):
    users = ["alice", "bob", "carol", "erin", "frank"]
    results = in_parallel(
        *(
            (lambda user=user: configured.create(checked(configured, cluster_id=CLUSTER, user_names=[user])))
            for user in users
        )
    )

    assert [result.outs["user_names"] for result in results] == [[user] for user in users]
    assert all(result.outs["synced_user_names"] == users for result in results)
    assert [task[:2] for task in tasks(slow_tasks)] == [("sync", users)]
    assert held(slow_tasks)[0] == users


def test_one_resources_policy_less_user_fails_only_that_resource_and_its_roll_back_takes_only_its_own(
    configured, slow_tasks
):
    def create(*users: str) -> Callable[[], Any]:
        return lambda: configured.create(checked(configured, cluster_id=CLUSTER, user_names=list(users)))

    first, failing, third = in_parallel(create("alice"), create("dave", "frank"), create("bob"))

    assert first.outs["user_names"] == ["alice"] and third.outs["user_names"] == ["bob"]
    assert isinstance(failing, Exception)
    assert "did not arrive: users dave" in str(failing)
    assert "The principals this run did sync (frank) were cancelled again" in str(failing)
    assert held(slow_tasks)[0] == ["alice", "bob"]
    assert [task[:2] for task in tasks(slow_tasks)] == [
        ("sync", ["alice", "bob", "frank"]),  # the emulator's task skips dave: no MRS policy
        ("cancel", ["frank"]),
    ]


def test_a_user_one_round_syncs_for_one_resource_and_cancels_for_another_stays_synced(configured, slow_tasks):
    giver = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice", "bob"]))
    slow_tasks.context.requests.clear()
    giver_news = checked(configured, cluster_id=CLUSTER, user_names=["bob"])
    taker_news = checked(configured, cluster_id=CLUSTER, user_names=["alice"])

    updated, created = in_parallel(
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
    provider: ClusterIamSyncProvider, crowded_emulator: LocalEmulator
):
    configure(provider, crowded_emulator)
    halves = ([f"u{index:04d}" for index in range(600)], [f"u{index:04d}" for index in range(600, 1200)])

    results = in_parallel(
        *(
            (lambda names=names: provider.create(checked(provider, cluster_id=CLUSTER, user_names=names)))
            for names in halves
        )
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
