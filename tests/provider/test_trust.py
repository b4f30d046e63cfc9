"""The rules that keep the cluster as the stack's state says, with rounds run by hand.

* a call queued behind a round it never joins ends at its own timeout and says nothing was sent;
* a cancel is judged against what the stack's checkpoint declares, and when that cannot be read
  nothing is cancelled.
"""

from __future__ import annotations

import pytest

from kit.demo import PROJECT
from kit.emulator import LocalEmulator
from kit.process import StoredState
from mrs_iam_sync.checkpoint import StoredResource
from mrs_iam_sync.errors import ProvisioningError
from mrs_iam_sync.inputs import sketch
from mrs_iam_sync.process import ProviderProcess
from mrs_iam_sync.provider import ClusterIamSyncProvider

from .conftest import CLUSTER, configure
from .helpers import checked, held


def test_a_call_whose_round_never_starts_ends_at_its_timeout_having_sent_nothing(
    by_hand: ProviderProcess, provider: ClusterIamSyncProvider, emulator: LocalEmulator
) -> None:
    configure(provider, emulator)
    with pytest.raises(ProvisioningError) as raised:
        provider.create(checked(provider, cluster_id=CLUSTER, user_names=["alice"], timeout_seconds=0.3))

    message = str(raised.value)
    assert "nothing was sent for it" in message
    assert "may stay synced" not in message
    assert emulator.context.requests.entries() == []
    assert sum(each.pending() for each in by_hand.coordinators()) == 0


def stored(resource_id: str, **inputs: object) -> StoredResource:
    outputs = {"project_id": PROJECT, "region": "cn-north-4"}
    return StoredResource(resource_id, resource_id, sketch(inputs, outputs), readable=True)


def test_a_delete_keeps_what_a_resource_only_the_checkpoint_knows_declares(
    configured: ClusterIamSyncProvider, emulator: LocalEmulator, stored_state: StoredState
) -> None:
    created = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice", "bob"]))
    stored_state.stored.append(stored("untouched", cluster_id=CLUSTER, user_names=["alice"]))

    configured.delete(created.id, dict(created.outs or {}))

    assert held(emulator)[0] == ["alice"]
    assert stored_state.reads >= 1  # consulted (the round also waits for it before starting)


def test_a_stored_resource_on_another_cluster_or_deleted_in_this_run_protects_nothing(
    configured: ClusterIamSyncProvider, emulator: LocalEmulator, stored_state: StoredState
) -> None:
    first = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    second = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    stored_state.stored += [
        stored("elsewhere", cluster_id="another-cluster", user_names=["alice"]),
        stored(second.id, cluster_id=CLUSTER, user_names=["alice"]),
    ]

    configured.delete(second.id, dict(second.outs or {}))  # first still declares alice: kept
    assert held(emulator)[0] == ["alice"]
    configured.delete(first.id, dict(first.outs or {}))  # second was deleted in this run: cancelled

    assert held(emulator)[0] == []


def test_an_unreadable_checkpoint_cancels_nothing_and_names_the_way_out(
    configured: ClusterIamSyncProvider, emulator: LocalEmulator, stored_state: StoredState
) -> None:
    created = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    stored_state.unreadable = "the backend refused the read"

    with pytest.raises(ProvisioningError) as raised:
        configured.delete(created.id, dict(created.outs or {}))

    message = str(raised.value)
    assert "nothing was cancelled" in message and "alice" in message
    assert "the backend refused the read" in message and "--target" in message
    assert held(emulator)[0] == ["alice"]


def test_a_secret_list_in_the_checkpoint_cancels_nothing(
    configured: ClusterIamSyncProvider, emulator: LocalEmulator, stored_state: StoredState
) -> None:
    created = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    stored_state.stored.append(
        StoredResource("secretive", "secretive", sketch({"cluster_id": CLUSTER}), readable=False)
    )

    with pytest.raises(ProvisioningError, match="secret values"):
        configured.delete(created.id, dict(created.outs or {}))
    assert held(emulator)[0] == ["alice"]


def updated_from_alice_to_bob(provider: ClusterIamSyncProvider, **settings: object) -> str:
    """Create [alice], then update it to [bob] with ``settings``; the update's failure message."""
    created = provider.create(checked(provider, cluster_id=CLUSTER, user_names=["alice"]))
    news = checked(provider, cluster_id=CLUSTER, user_names=["bob"], **settings)
    with pytest.raises(ProvisioningError) as raised:
        provider.update(created.id, dict(created.outs or {}), news)
    return str(raised.value)


def test_an_update_whose_cancel_fails_leaves_the_old_principal_and_takes_the_new_one_back(
    configured: ClusterIamSyncProvider, emulator: LocalEmulator
) -> None:
    emulator.add_fault(kind="server_error", status=500, methods=["DELETE"], count=1)

    message = updated_from_alice_to_bob(configured)

    assert "The principals this run did sync (bob) were cancelled again" in message
    assert "holds everything the stack's state declares for this resource (alice)" in message
    assert held(emulator)[0] == ["alice"]


def test_an_update_whose_time_runs_out_between_its_sync_and_its_cancel_cancels_nothing_it_still_owns(
    configured: ClusterIamSyncProvider, emulator: LocalEmulator
) -> None:
    emulator.update_settings(sync_seconds=1.0)  # the sync task outlasts the update's budget

    message = updated_from_alice_to_bob(configured, timeout_seconds=0.5)

    assert "still running" in message
    assert "holds everything the stack's state declares for this resource (alice)" in message
    assert held(emulator)[0] == ["alice"]
    assert [task["kind"] for task in emulator.backend.cluster_json(PROJECT, CLUSTER)["tasks"]] == [
        "sync",
        "sync",
        "cancel",
    ]
