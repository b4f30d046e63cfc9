"""The provider's methods called directly, as the dynamic-provider server calls them, against the emulator.

Terraform's habit: create -> read back (import-verify) -> update -> refresh -> delete, asserting what
the cluster holds after each step, including that principals the resource does not own survive.
"""

from __future__ import annotations

import threading
import time

import dill
import pytest

from kit.demo import PROJECT, SANDBOX
from mrs_iam_sync.errors import ProvisioningError

from .conftest import CLUSTER, OTHER_CLUSTER, configure
from .helpers import checked, held, writes


def test_full_lifecycle_touches_only_what_the_resource_declares(configured, emulator):
    provider = configured
    emulator.backend.patch_cluster(PROJECT, CLUSTER, synced_users=["erin"], synced_groups=["auditors"])

    inputs = checked(
        provider, cluster_id=CLUSTER, user_names=["bob", "alice"], group_names=["platform-admins"]
    )
    created = provider.create(inputs)
    assert created.outs["user_names"] == ["alice", "bob"]
    assert created.outs["project_id"] == PROJECT
    assert created.outs["region"] == "cn-north-4"
    assert created.outs["cluster_sync_complete"] is True
    # alice brings data-engineers and bob brings analysts; erin and auditors were there before.
    assert held(emulator) == (
        ["alice", "bob", "erin"],
        ["analysts", "auditors", "data-engineers", "platform-admins"],
    )
    assert created.outs["synced_user_names"] == ["alice", "bob", "erin"]

    # import-verify: a read right after create gives back the same outputs and the same inputs.
    read = provider.read(created.id, dict(created.outs))
    assert read.id == created.id
    assert {k: read.outs[k] for k in inputs} == {k: created.outs[k] for k in inputs}
    assert provider.diff(created.id, dict(read.outs), inputs).changes is False

    news = checked(provider, cluster_id=CLUSTER, user_names=["alice", "frank"], group_names=[])
    assert provider.diff(created.id, dict(read.outs), news).changes is True
    updated = provider.update(created.id, dict(read.outs), news)
    users, groups = held(emulator)
    assert users == ["alice", "erin", "frank"]
    assert "platform-admins" not in groups
    assert "auditors" in groups
    assert updated.outs["user_names"] == ["alice", "frank"]

    refreshed = provider.read(created.id, dict(updated.outs))
    assert provider.diff(created.id, dict(refreshed.outs), news).changes is False

    provider.delete(created.id, dict(refreshed.outs))
    users, groups = held(emulator)
    assert users == ["erin"]
    # The groups alice brought along were never declared, so they stay; so does auditors.
    assert "auditors" in groups


def test_update_sends_one_sync_for_additions_and_one_cancel_for_removals(configured, emulator):
    provider = configured
    first = checked(provider, cluster_id=CLUSTER, user_names=["alice"], group_names=["auditors"])
    created = provider.create(first)
    emulator.context.requests.clear()

    second = checked(provider, cluster_id=CLUSTER, user_names=["alice", "bob"], group_names=[])
    provider.update(created.id, dict(created.outs), second)
    assert sorted(writes(emulator)) == [
        ("DELETE", f"/v2/{PROJECT}/clusters/{CLUSTER}/iam-sync-user"),
        ("POST", f"/v2/{PROJECT}/clusters/{CLUSTER}/iam-sync-user"),
    ]


def test_creating_over_already_synced_principals_adopts_them_without_a_task(configured, emulator):
    emulator.backend.patch_cluster(PROJECT, CLUSTER, synced_users=["alice"], synced_groups=["analysts"])
    emulator.context.requests.clear()
    configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"], group_names=["analysts"]))
    assert writes(emulator) == []


def test_a_user_without_mrs_policy_fails_create_naming_that_user(configured, emulator):
    with pytest.raises(ProvisioningError) as raised:
        configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice", "dave"]))
    message = str(raised.value)
    assert "did not arrive: users dave" in message
    assert "MRS policy" in message
    # The failed create is not in state, so what it did sync is cancelled again.
    assert "(alice) were cancelled again" in message
    assert "alice" not in held(emulator)[0]


def test_refresh_shows_a_vanished_principal_as_drift_and_update_restores_it(configured, emulator):
    inputs = checked(configured, cluster_id=CLUSTER, user_names=["alice", "bob"])
    created = configured.create(inputs)
    emulator.backend.patch_cluster(PROJECT, CLUSTER, synced_users=["bob"])

    refreshed = configured.read(created.id, dict(created.outs))
    assert refreshed.outs["user_names"] == ["bob"]
    assert refreshed.inputs is not None and refreshed.inputs["user_names"] == ["bob"]
    diff = configured.diff(created.id, dict(refreshed.outs), inputs)
    assert diff.changes is True and diff.replaces == []

    configured.update(created.id, dict(refreshed.outs), inputs)
    assert held(emulator)[0] == ["alice", "bob"]


def test_a_vanished_cluster_removes_the_resource_on_refresh_and_counts_as_deleted(configured, emulator):
    created = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    emulator.backend.delete_cluster(PROJECT, CLUSTER)
    assert configured.read(created.id, dict(created.outs)).id == ""
    configured.delete(created.id, dict(created.outs))  # no error


def test_delete_never_cancels_principals_another_resource_declared(configured, emulator):
    mine = configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"]))
    configured.create(checked(configured, cluster_id=CLUSTER, user_names=["bob"]))
    configured.delete(mine.id, dict(mine.outs))
    assert held(emulator)[0] == ["bob"]


def test_resources_on_one_cluster_created_in_parallel_never_overlap(configured, emulator):
    emulator.update_settings(sync_seconds=0.2)
    users = ["alice", "bob", "carol", "erin", "frank"]
    errors: list[BaseException] = []

    def create(user: str) -> None:
        try:
            configured.create(checked(configured, cluster_id=OTHER_CLUSTER, user_names=[user]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert held(emulator, OTHER_CLUSTER)[0] == users
    statuses = [entry["status"] for entry in emulator.context.requests.entries()]
    assert 409 not in statuses


def test_full_sync_brings_every_user_with_an_mrs_policy(configured, emulator):
    created = configured.create(checked(configured, cluster_id=SANDBOX, is_all_sync=True))
    assert created.outs["synced_user_names"] == ["alice", "bob", "carol", "erin", "frank"]


def test_wrong_secret_key_reads_as_a_signature_problem(provider, emulator):
    configure(provider, emulator, secret_key="a-wrong-secret-key-value")
    with pytest.raises(ProvisioningError) as raised:
        provider.create(checked(provider, cluster_id=CLUSTER, user_names=["alice"]))
    message = str(raised.value)
    assert "APIGW.0301" in message
    assert CLUSTER in message
    assert "a-wrong-secret-key-value" not in message


def test_the_serialized_provider_is_a_small_reference(configured):
    blob = dill.dumps(configured, protocol=None, recurse=True)
    assert len(blob) < 300
    assert b"secret" not in blob


def test_timeout_seconds_bounds_an_api_that_never_answers(configured, emulator):
    emulator.add_fault(kind="latency", latency_seconds=30, rate=1.0)
    started = time.monotonic()
    with pytest.raises(ProvisioningError) as raised:
        configured.create(checked(configured, cluster_id=CLUSTER, user_names=["alice"], timeout_seconds=2))
    assert time.monotonic() - started < 5
    # The endpoint is slow, not unreachable: the message blames the budget, not the network.
    assert "failed: timeout_seconds (2 s) ran out while waiting for the answer to GET http://" in str(
        raised.value
    )
    assert "could not get an answer" not in str(raised.value)
    emulator.clear_faults()
