"""The life of a stack through the real CLI: preview, up, no-op, update, drift, replace, destroy.

Principals without IAM groups (heidi, ivan, judy, frank) are used where a test compares a
cluster's whole synced set before and after, because syncing a user also brings that
user's IAM groups, and a cancel removes only the names it lists.
"""

from __future__ import annotations

import pytest

from .harness import (
    ANALYTICS,
    PROJECT_ID,
    REGION,
    SANDBOX,
    SANDBOX_FOREIGN,
    SPARE,
    STREAMING,
    Emulator,
    Project,
    assert_failed,
    entry,
)
from .plan_scenarios import deploy_then_drift

pytestmark = pytest.mark.e2e

CLUSTER_TYPE = "pulumi-python:dynamic/mrs:ClusterIamSync"


def test_preview_of_a_new_stack_lists_the_creates_and_writes_nothing(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            entry("analytics", ANALYTICS, users=["alice"], groups=["ops"]),
            entry("streaming", STREAMING, users=["bob"]),
        ]
    )
    before = {cluster: emulator.synced(cluster) for cluster in (ANALYTICS, STREAMING)}

    plan = project.preview_json()

    creates = sorted(
        step["urn"].rsplit("::", 1)[1]
        for step in plan["steps"]
        if step["op"] == "create" and step["urn"].split("::")[2] == CLUSTER_TYPE
    )
    assert creates == ["analytics", "streaming"]
    assert emulator.writes() == []
    assert {cluster: emulator.synced(cluster) for cluster in (ANALYTICS, STREAMING)} == before
    assert project.resources() == {}


def test_up_syncs_the_declared_principals_with_their_groups_and_exports_them(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            entry("analytics", ANALYTICS, users=["carol", "alice"], groups=["ops"]),
            entry("streaming", STREAMING, users=["heidi"], groups=["guests", "auditors"]),
        ]
    )

    project.up()

    # carol brings platform-admins and analysts along, alice data-engineers.
    analytics_groups = ["analysts", "data-engineers", "ops", "platform-admins"]
    assert emulator.synced(ANALYTICS) == ({"alice", "carol"}, set(analytics_groups))
    assert emulator.synced(STREAMING) == ({"heidi"}, {"auditors", "guests"})
    assert project.outputs() == {
        "synced": {
            "analytics": {
                "cluster_id": ANALYTICS,
                "users": ["alice", "carol"],
                "groups": analytics_groups,
                "complete": True,
            },
            "streaming": {
                "cluster_id": STREAMING,
                "users": ["heidi"],
                "groups": ["auditors", "guests"],
                "complete": True,
            },
        }
    }
    outputs = project.resources()["analytics"]["outputs"]
    assert {key: value for key, value in outputs.items() if key not in ("__provider", "last_synced_at")} == {
        "cluster_id": ANALYTICS,
        "user_names": ["alice", "carol"],
        "group_names": ["ops"],
        "is_all_sync": False,
        "project_id": PROJECT_ID,
        "region": REGION,
        "wait": True,
        "timeout_seconds": 60,
        "synced_user_names": ["alice", "carol"],
        "synced_group_names": analytics_groups,
        "cluster_sync_complete": True,
        "full_sync_user_names": [],
        "full_sync_group_names": [],
    }
    assert outputs["last_synced_at"].endswith("Z")
    assert sorted(emulator.writes()) == [("POST", ANALYTICS, 202), ("POST", STREAMING, 202)]


def test_a_second_preview_after_up_expects_no_changes_even_with_names_reordered(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["alice", "bob"], groups=["ops", "guests"])])
    project.up()
    emulator.clear_log()

    same = project.preview("--expect-no-changes", check=False)
    project.set_clusters(
        [entry("analytics", ANALYTICS, users=["bob", "alice", "bob"], groups=["guests", "ops"])]
    )
    reordered = project.preview("--expect-no-changes", check=False)

    assert same.returncode == 0, same
    assert reordered.returncode == 0, reordered
    assert emulator.writes() == []


def test_update_syncs_only_the_added_user_and_cancels_only_the_removed_group(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"], groups=["ops", "guests"])])
    project.up()
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi", "ivan"], groups=["ops"])])

    diff = project.preview("--diff")
    emulator.clear_log()
    project.up()

    assert f"~ {CLUSTER_TYPE}: (update)" in diff.stdout, diff
    assert "~ user_names" in diff.stdout and '+ [1]: "ivan"' in diff.stdout, diff
    assert "~ group_names" in diff.stdout and '"guests" => "ops"' in diff.stdout, diff
    assert "~ 1 to update" in diff.stdout, diff
    assert sorted(emulator.writes()) == [("DELETE", ANALYTICS, 202), ("POST", ANALYTICS, 202)]
    last_two = [(task["kind"], task["users"], task["groups"]) for task in emulator.tasks(ANALYTICS)[-2:]]
    assert last_two == [("sync", ["ivan"], []), ("cancel", [], ["guests"])]  # syncs first: see the README
    assert emulator.synced(ANALYTICS) == ({"heidi", "ivan"}, {"ops"})
    assert project.outputs()["synced"]["analytics"]["users"] == ["heidi", "ivan"]


def test_a_principal_cancelled_behind_pulumis_back_shows_on_refresh_and_the_next_up_restores_it(
    project: Project, emulator: Emulator
) -> None:
    deploy_then_drift(project, emulator)

    refresh = project.refresh("--diff")
    drifted = project.preview("--expect-no-changes", check=False)
    emulator.clear_log()
    project.up()
    settled = project.preview("--expect-no-changes", check=False)

    assert f"~ {CLUSTER_TYPE}: (update)" in refresh.stdout, refresh
    assert "~ user_names" in refresh.stdout and '- [1]: "ivan"' in refresh.stdout, refresh
    assert "~ 1 updated" in refresh.stdout, refresh
    assert project.outputs()["synced"]["analytics"]["users"] == ["heidi", "ivan"]
    assert drifted.returncode != 0, drifted
    assert emulator.writes() == [("POST", ANALYTICS, 202)]
    assert emulator.tasks(ANALYTICS)[-1]["users"] == ["ivan"]
    assert emulator.synced(ANALYTICS) == ({"heidi", "ivan"}, {"ops"})
    assert settled.returncode == 0, settled


def test_a_refresh_preview_with_drift_shows_the_principal_and_nothing_about_project_or_region(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi", "ivan"])])
    project.up()
    emulator.patch_cluster(ANALYTICS, synced_users=["heidi"])

    preview = project.preview("--refresh", "--diff", check=False)

    assert preview.returncode == 0, preview
    assert "~ user_names" in preview.stdout, preview
    assert "project_id" not in preview.stdout, preview
    assert "region" not in preview.stdout, preview


def test_changing_cluster_id_replaces_the_resource_and_the_old_cluster_keeps_principals_it_never_declared(
    project: Project, emulator: Emulator
) -> None:
    emulator.patch_cluster(ANALYTICS, synced_users=["frank"], synced_groups=["auditors"])
    project.set_clusters([entry("team", ANALYTICS, users=["heidi"], groups=["guests"])])
    project.up()
    assert emulator.synced(ANALYTICS) == ({"frank", "heidi"}, {"auditors", "guests"})
    project.set_clusters([entry("team", SPARE, users=["heidi"], groups=["guests"])])

    diff = project.preview("--diff")
    emulator.clear_log()
    project.up()

    assert f"+-{CLUSTER_TYPE}: (replace)" in diff.stdout, diff
    assert f'~ cluster_id           : "{ANALYTICS}" => "{SPARE}"' in diff.stdout, diff
    assert "+-1 to replace" in diff.stdout, diff
    assert emulator.synced(SPARE) == ({"heidi"}, {"guests"})
    assert emulator.synced(ANALYTICS) == ({"frank"}, {"auditors"})
    assert emulator.writes() == [("POST", SPARE, 202), ("DELETE", ANALYTICS, 202)]
    assert project.resources()["team"]["outputs"]["cluster_id"] == SPARE
    assert project.outputs()["synced"]["team"]["cluster_id"] == SPARE


def test_destroy_cancels_only_the_declared_principals_and_leaves_the_others(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            entry("sandbox", SANDBOX, users=["heidi", "ivan"], groups=["guests"]),
            entry("analytics", ANALYTICS, users=["judy"], groups=["auditors"]),
        ]
    )
    project.up()
    assert emulator.synced(SANDBOX) == (
        {"heidi", "ivan", *SANDBOX_FOREIGN["users"]},
        {"guests", *SANDBOX_FOREIGN["groups"]},
    )
    emulator.clear_log()

    project.destroy()

    assert emulator.synced(SANDBOX) == (set(SANDBOX_FOREIGN["users"]), set(SANDBOX_FOREIGN["groups"]))
    assert emulator.synced(ANALYTICS) == (set(), set())
    assert sorted(emulator.writes()) == [("DELETE", ANALYTICS, 202), ("DELETE", SANDBOX, 202)]
    last = emulator.tasks(SANDBOX)[-1]
    assert (last["kind"], last["users"], last["groups"]) == ("cancel", ["heidi", "ivan"], ["guests"])
    assert project.resources() == {}


def test_a_cluster_deleted_behind_pulumis_back_is_dropped_by_refresh_and_destroy_still_succeeds(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(
        [
            entry("analytics", ANALYTICS, users=["heidi"]),
            entry("streaming", STREAMING, users=["ivan"]),
        ]
    )
    project.up()
    emulator.delete_cluster(ANALYTICS)

    project.refresh()

    assert set(project.resources()) == {"streaming"}
    project.destroy()
    assert project.resources() == {}
    assert emulator.synced(STREAMING) == (set(), set())


def test_a_user_without_an_mrs_policy_fails_up_naming_the_user_and_leaves_the_cluster_as_it_was(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["dave", "heidi"])])

    result = project.up(check=False)

    assert_failed(
        result,
        "these declared principals did not arrive: users dave (does each exist in IAM and hold an MRS policy",
        # The failed create is not in state, so what it did sync (heidi) is cancelled again.
        "(heidi) were cancelled again. Nothing this run sent stays on cluster",
    )
    assert emulator.synced(ANALYTICS) == (set(), set())
