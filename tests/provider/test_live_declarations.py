"""A principal a live resource of the deployment still declares on a cluster is never cancelled there.

The provider methods are called the way the engine calls them in one deployment: diffs (or
creates) of everything the program declares, then deletes of what was replaced or removed.
"""

from __future__ import annotations

import threading
import time

from kit.demo import PROJECT
from kit.emulator import LocalEmulator
from mrs_iam_sync.provider import ClusterIamSyncProvider

from .conftest import CLUSTER
from .helpers import checked, held


def cancel_tasks(emulator: LocalEmulator) -> list[dict[str, object]]:
    state = emulator.backend.cluster_json(PROJECT, CLUSTER)
    return [task for task in state["tasks"] if task["kind"] == "cancel"]


def test_a_replacement_on_the_same_cluster_cancels_nothing(configured: ClusterIamSyncProvider, emulator):
    inputs = checked(configured, cluster_id=CLUSTER, user_names=["alice", "bob"])
    old = configured.create(inputs)
    # `pulumi up --replace`: no diff, the new resource is created, then the old one deleted.
    configured.create(inputs)
    assert old.outs is not None
    configured.delete(old.id, dict(old.outs))
    assert held(emulator)[0] == ["alice", "bob"]
    assert cancel_tasks(emulator) == []


def test_a_region_change_with_a_pinned_endpoint_keeps_the_principals(configured, emulator):
    old = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    news = checked(configured, cluster_id=CLUSTER, user_names=["alice"], region="cn-east-3")
    assert configured.diff(old.id, dict(old.outs), news).replaces == ["region"]
    configured.create(news)
    configured.delete(old.id, dict(old.outs))
    assert held(emulator)[0] == ["alice"]
    assert cancel_tasks(emulator) == []


def test_removing_one_of_two_resources_declaring_a_user_keeps_her(configured, emulator):
    first = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice", "bob"]))
    second_inputs = checked(configured, cluster_id=CLUSTER, user_names=["alice"])
    second = configured.create(second_inputs)
    # The next deployment: the program still declares `second` (diffed, no change) but not `first`.
    configured.diff(second.id, dict(second.outs), second_inputs)
    configured.delete(first.id, dict(first.outs))
    assert held(emulator)[0] == ["alice"]
    assert [task["users"] for task in cancel_tasks(emulator)] == [["bob"]]


def test_a_deleted_resource_no_longer_protects_what_it_declared(configured, emulator):
    first = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    second = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    configured.delete(first.id, dict(first.outs))
    assert held(emulator)[0] == ["alice"]
    configured.delete(second.id, dict(second.outs))
    assert held(emulator)[0] == []


def test_a_user_moving_to_a_resource_diffed_after_the_update_started_is_never_cancelled(configured, emulator):
    giver_inputs = checked(configured, cluster_id=CLUSTER, user_names=["alice", "bob"])
    taker_inputs = checked(configured, cluster_id=CLUSTER, user_names=["carol"])
    giver = configured.create(giver_inputs)
    taker = configured.create(taker_inputs)
    giver_news = checked(configured, cluster_id=CLUSTER, user_names=["bob"])
    taker_news = checked(configured, cluster_id=CLUSTER, user_names=["carol", "alice"])

    # The engine diffs the giver and starts its update before it has even diffed the taker.
    configured.diff(giver.id, dict(giver.outs), giver_news)
    update = threading.Thread(target=configured.update, args=(giver.id, dict(giver.outs), giver_news))
    update.start()
    time.sleep(0.1)
    configured.diff(taker.id, dict(taker.outs), taker_news)
    configured.update(taker.id, dict(taker.outs), taker_news)
    update.join()

    assert held(emulator)[0] == ["alice", "bob", "carol"]
    assert cancel_tasks(emulator) == []


def failed_create_of_alice(provider: ClusterIamSyncProvider) -> str:
    """The message of a create of alice on the cluster with 1 s to spare, which must fail."""
    try:
        provider.create(checked(provider, cluster_id=CLUSTER, user_names=["alice"], timeout_seconds=1))
    except Exception as exc:
        return str(exc)
    raise AssertionError("the create should have failed")


def test_a_create_that_times_out_after_its_task_started_takes_it_back(configured, emulator):
    emulator.update_settings(sync_seconds=2.5)
    started = time.monotonic()
    message = failed_create_of_alice(configured)
    assert f"the sync task on cluster {CLUSTER} was still running after" in message
    assert "The principals this run did sync (alice, data-engineers)" not in message
    assert "The principals this run did sync (alice) were cancelled again" in message
    assert held(emulator)[0] == []
    assert time.monotonic() - started < 1 + 2.5 + 5
    kinds = [task["kind"] for task in emulator.backend.cluster_json(PROJECT, CLUSTER)["tasks"]]
    assert kinds == ["sync", "cancel"]


def test_a_rollback_that_cannot_finish_says_what_may_stay_synced(configured, emulator):
    emulator.update_settings(sync_seconds=1.5)
    # Every cancel is refused, so the roll-back cannot take alice back.
    emulator.add_fault(kind="server_error", status=500, methods=["DELETE"], rate=1.0)
    message = failed_create_of_alice(configured)
    assert (
        "Cancelling what this run had synced (alice) did not finish within the 30 s grace period" in message
    )
    assert "may stay synced on cluster" in message
