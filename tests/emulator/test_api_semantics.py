"""What the five endpoints do when the request is acceptable: tasks, sets, flags."""

from __future__ import annotations

import pytest

from kit.demo import ANALYTICS, PROJECT, SANDBOX, STREAMING, demo_auth

from .helpers import OTHER_PROJECT, assert_error


def test_syncing_a_user_also_syncs_every_group_of_that_user(emulator, api):
    response = api.sync({"user_names": ["carol"]})

    assert response.status_code == 202
    assert response.json() == {"state": "synchronizing"}
    assert api.show().json() == {"user_names": ["carol"], "group_names": ["analysts", "platform-admins"]}


def test_a_user_without_an_mrs_policy_is_silently_skipped_with_its_groups(api):
    assert api.sync({"user_names": ["dave", "alice"]}).status_code == 202

    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


def test_a_group_named_explicitly_is_synced_even_if_its_only_member_has_no_policy(api):
    api.sync({"user_names": ["dave"], "group_names": ["auditors"]})

    assert api.show().json() == {"user_names": [], "group_names": ["auditors"]}


def test_full_sync_covers_every_policy_user_and_every_group(api):
    assert api.sync({"is_all_sync": True}).status_code == 202

    assert api.show().json() == {
        "user_names": ["alice", "bob", "carol", "erin", "frank"],
        "group_names": ["analysts", "auditors", "data-engineers", "platform-admins"],
    }


def test_lists_are_sorted_and_syncs_accumulate(api):
    api.sync({"user_names": ["frank", "bob"]})
    api.sync({"group_names": ["auditors"]})

    assert api.show().json() == {"user_names": ["bob", "frank"], "group_names": ["analysts", "auditors"]}


def test_cancelling_a_user_does_not_cancel_its_groups(api):
    api.sync({"user_names": ["alice", "carol"]})

    response = api.cancel({"user_names": ["carol"]})

    assert response.status_code == 202
    assert response.json() == {"state": "synchronizing"}
    assert api.show().json() == {
        "user_names": ["alice"],
        "group_names": ["analysts", "data-engineers", "platform-admins"],
    }


def test_cancelling_names_that_are_not_synced_is_ignored(api):
    api.sync({"user_names": ["alice"]})

    assert api.cancel({"user_names": ["bob", "nobody"], "group_names": ["ghosts"]}).status_code == 202

    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


def test_sandbox_starts_with_principals_no_stack_owns(api):
    assert api.show(SANDBOX).json() == {"user_names": ["erin"], "group_names": ["data-engineers"]}
    assert api.show(STREAMING).json() == {"user_names": [], "group_names": []}


def test_is_synchronizing_is_true_while_a_task_runs(slow_emulator):
    api = slow_emulator.api()
    assert api.status().json() == {"is_synchronizing": False}

    api.sync({"user_names": ["alice"]})

    assert api.status().json() == {"is_synchronizing": True}
    assert api.show().json() == {"user_names": [], "group_names": []}
    slow_emulator.advance(31)
    assert api.status().json() == {"is_synchronizing": False}
    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


def test_is_synchronous_turns_true_once_a_task_has_completed(slow_emulator):
    api = slow_emulator.api()
    assert api.synchronous().json() == {"is_synchronous": False}

    api.sync({"user_names": ["bob"]})
    assert api.synchronous().json() == {"is_synchronous": False}
    slow_emulator.advance(31)

    assert api.synchronous().json() == {"is_synchronous": True}


def test_a_zero_second_task_still_exists_and_is_seen_finished(emulator, api):
    api.sync({"user_names": ["bob"]})

    tasks = [(task["kind"], task["state"], task["users"]) for task in emulator.cluster(ANALYTICS)["tasks"]]
    assert tasks == [("sync", "completed", ["bob"])]
    assert api.status().json() == {"is_synchronizing": False}
    assert api.synchronous().json() == {"is_synchronous": True}


def test_a_second_task_while_one_runs_is_rejected_by_default(slow_emulator):
    api = slow_emulator.api()
    api.sync({"user_names": ["alice"]})

    for response in (api.sync({"user_names": ["bob"]}), api.cancel({"user_names": ["alice"]})):
        assert_error(
            response,
            409,
            "MRS.0409",
            f"An IAM synchronization task is already running on cluster {ANALYTICS}; "
            "poll GET .../iam-sync until is_synchronizing is false, then retry",
        )
    slow_emulator.advance(31)
    assert api.sync({"user_names": ["bob"]}).status_code == 202


def test_a_task_on_another_cluster_does_not_block(slow_emulator):
    api = slow_emulator.api()
    api.sync({"user_names": ["alice"]})

    assert api.sync({"user_names": ["bob"]}, cluster=STREAMING).status_code == 202


def test_queue_mode_accepts_and_runs_tasks_one_after_the_other(make_emulator):
    emulator = make_emulator(sync_seconds=10, concurrent_sync="queue")
    api = emulator.api()

    assert api.sync({"user_names": ["alice"]}).status_code == 202
    assert api.cancel({"user_names": ["alice"]}).status_code == 202
    assert [task["state"] for task in emulator.cluster(ANALYTICS)["tasks"]] == ["running", "queued"]

    emulator.advance(11)
    assert api.show().json()["user_names"] == ["alice"]
    assert api.status().json() == {"is_synchronizing": True}
    emulator.advance(10)
    assert api.show().json()["user_names"] == []
    assert api.status().json() == {"is_synchronizing": False}


OPERATIONS = [
    ("POST", "iam-sync-user"),
    ("GET", "iam-sync-user"),
    ("DELETE", "iam-sync-user"),
    ("GET", "iam-sync"),
    ("GET", "iam-sync/is-synchronous"),
]


@pytest.mark.parametrize(("method", "suffix"), OPERATIONS)
def test_every_operation_reports_an_unknown_cluster_alike(api, method, suffix):
    path = f"/v2/{PROJECT}/clusters/no-such-cluster/{suffix}"
    body = b'{"user_names": ["alice"]}' if method != "GET" else b""

    response = api.http.request(method, path, content=body, headers={"Content-Type": "application/json"})

    assert_error(
        response,
        400,
        "12000003",
        f"The cluster does not exist. No cluster no-such-cluster in project {PROJECT}.",
    )


def test_an_unknown_project_is_reported_as_a_missing_cluster(emulator):
    api = emulator.api(demo_auth(project_id=OTHER_PROJECT))
    response = api.http.get(f"/v2/{OTHER_PROJECT}/clusters/{ANALYTICS}/iam-sync")

    assert_error(
        response,
        400,
        "12000003",
        f"The cluster does not exist. Project {OTHER_PROJECT} is unknown to the emulator "
        f"(cluster {ANALYTICS}).",
    )


def test_missing_cluster_status_can_be_404(make_emulator):
    api = make_emulator(missing_cluster_status=404).api()

    assert_error(api.show("gone"), 404, "12000003")


def test_missing_cluster_code_can_be_0023(make_emulator):
    api = make_emulator(missing_cluster_code="0023").api()

    message = assert_error(api.show("gone"), 400, "0023")
    assert message.startswith("Failed to obtain cluster details. No cluster gone in project ")


def test_unknown_names_are_skipped_by_default(api):
    assert api.sync({"user_names": ["alice", "mallory"], "group_names": ["ghosts"]}).status_code == 202

    assert api.show().json() == {"user_names": ["alice"], "group_names": ["data-engineers"]}


def test_unknown_names_can_be_rejected(make_emulator):
    emulator = make_emulator(unknown_names="reject")
    api = emulator.api()

    response = api.sync({"user_names": ["mallory", "alice", "eve"], "group_names": ["ghosts"]})

    assert_error(
        response, 400, "12000002", "The parameter is invalid: unknown IAM users eve, mallory; groups ghosts"
    )
    assert emulator.cluster(ANALYTICS)["tasks"] == []


def test_full_sync_with_names_is_rejected_by_default(api):
    response = api.sync({"is_all_sync": True, "user_names": ["alice"]})

    assert_error(
        response,
        400,
        "12000002",
        "The parameter is invalid: is_all_sync=true synchronizes every user and group and cannot be "
        "combined with user_names or group_names; send either is_all_sync=true or the lists",
    )


def test_full_sync_with_names_can_be_allowed_and_then_ignores_the_names(make_emulator):
    api = make_emulator(all_sync_with_names="allow").api()

    assert api.sync({"is_all_sync": True, "user_names": ["dave"]}).status_code == 202

    assert "dave" not in api.show().json()["user_names"]
    assert len(api.show().json()["group_names"]) == 4


@pytest.mark.parametrize(
    "body", [None, {}, {"is_all_sync": False}, {"user_names": [], "group_names": []}, {"user_names": None}]
)
def test_a_sync_naming_nothing_is_rejected(api, body):
    assert_error(
        api.sync(body),
        400,
        "12000002",
        "The parameter is invalid: nothing to synchronize: give user_names and/or group_names, "
        "or set is_all_sync=true",
    )


def test_a_cancel_naming_nothing_is_rejected(api):
    assert_error(
        api.cancel({}),
        400,
        "12000002",
        "The parameter is invalid: nothing to cancel: give user_names and/or group_names",
    )


def test_empty_requests_can_be_accepted_as_tasks_that_do_nothing(make_emulator):
    emulator = make_emulator(empty_sync="accept")
    api = emulator.api()

    assert api.sync(None).status_code == 202
    assert api.cancel({}).status_code == 202

    assert [task["kind"] for task in emulator.cluster(ANALYTICS)["tasks"]] == ["sync", "cancel"]
    assert api.synchronous().json() == {"is_synchronous": True}


def test_unknown_body_fields_are_ignored(api):
    assert api.sync({"user_names": ["bob"], "future_field": 1}).status_code == 202


def test_drift_made_through_the_control_api_shows_in_the_api(emulator, api):
    emulator.ok("PATCH", f"projects/{PROJECT}/clusters/{ANALYTICS}", {"synced_users": ["zed", "alice"]})

    assert api.show().json() == {"user_names": ["alice", "zed"], "group_names": []}


def test_a_deleted_cluster_vanishes_from_the_api(emulator, api):
    emulator.ok("DELETE", f"projects/{PROJECT}/clusters/{ANALYTICS}")

    assert_error(api.show(), 400, "12000003")


def test_a_cluster_keeps_its_last_twenty_completed_tasks(emulator, api):
    for _ in range(12):
        assert api.sync({"user_names": ["alice"]}).status_code == 202
        assert api.cancel({"user_names": ["alice"]}).status_code == 202
    api.status()  # completes the last task

    tasks = emulator.cluster(ANALYTICS)["tasks"]

    assert len(tasks) == 20 and {task["state"] for task in tasks} == {"completed"}
    assert [task["kind"] for task in tasks[-2:]] == ["sync", "cancel"]
