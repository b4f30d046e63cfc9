"""What the stack's state says is what the cluster has, through the real CLI (the trust issue).

* a failed update syncs before it cancels, so the old principals stay and the message says so;
* targeted runs (``destroy --target``, ``up --target``, ``up --exclude``) never cancel a principal
  another resource in the stack's state declares: the provider reads the stack's checkpoint;
* a live full sync keeps what it brought, and switching full sync on cancels nothing.

Every claim is read off the emulator: its synced sets and its task history.
"""

from __future__ import annotations

import pytest

from .harness import ANALYTICS, Emulator, Project, assert_failed, entry

pytestmark = pytest.mark.e2e


def cancel_tasks(emulator: Emulator, cluster_id: str) -> list[tuple[list[str], list[str]]]:
    return [
        (task["users"], task["groups"]) for task in emulator.tasks(cluster_id) if task["kind"] == "cancel"
    ]


# -- a failed update ------------------------------------------------------------------------------


def test_a_failed_update_keeps_the_old_groups_and_says_what_the_cluster_holds(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("x", ANALYTICS, groups=["guests"])])
    project.up()

    project.set_clusters([entry("x", ANALYTICS, groups=["ops"], users=["dave"])])  # dave: no MRS policy
    result = project.up(check=False)

    assert_failed(result, "did not arrive: users dave", "holds everything the stack's state declares")
    assert "as it was" not in result.stdout
    assert emulator.synced(ANALYTICS) == (set(), {"guests"})
    # Reverting the program finds nothing to do, and that is the truth.
    project.set_clusters([entry("x", ANALYTICS, groups=["guests"])])
    assert project.preview("--expect-no-changes", check=False).returncode == 0


def test_a_failed_update_of_users_never_takes_the_dropped_user_away(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("x", ANALYTICS, users=["heidi", "ivan"])])
    project.up()

    project.set_clusters([entry("x", ANALYTICS, users=["ivan", "dave"])])
    assert_failed(project.up(check=False), "did not arrive: users dave")

    assert emulator.synced(ANALYTICS)[0] == {"heidi", "ivan"}
    assert cancel_tasks(emulator, ANALYTICS) == []


def test_an_update_adding_a_user_and_dropping_its_group_ends_as_its_outputs_say(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("x", ANALYTICS, groups=["ops"])])
    project.up()

    project.set_clusters([entry("x", ANALYTICS, users=["grace"])])  # grace is in IAM group ops
    project.up()

    users, groups = emulator.synced(ANALYTICS)
    assert "grace" in users
    outputs = project.resources()["x"]["outputs"]
    assert (set(outputs["synced_user_names"]), set(outputs["synced_group_names"])) == (users, groups)
    assert project.preview("--expect-no-changes", check=False).returncode == 0


# -- targeted runs --------------------------------------------------------------------------------


@pytest.fixture
def shared(project: Project, emulator: Emulator) -> Project:
    """x declares heidi; y declares heidi and ivan; both on one cluster."""
    project.set_clusters(
        [entry("x", ANALYTICS, users=["heidi"]), entry("y", ANALYTICS, users=["heidi", "ivan"])]
    )
    project.up()
    assert emulator.synced(ANALYTICS)[0] == {"heidi", "ivan"}
    return project


def test_destroy_target_keeps_what_another_resource_in_state_declares(
    shared: Project, emulator: Emulator
) -> None:
    shared.destroy("--target", shared.urn("x"))

    assert emulator.synced(ANALYTICS)[0] == {"heidi", "ivan"}
    assert cancel_tasks(emulator, ANALYTICS) == []
    assert set(shared.resources()) == {"y"}


@pytest.mark.parametrize("how", ["target", "exclude"])
def test_a_targeted_up_removing_a_resource_keeps_what_another_declares(
    shared: Project, emulator: Emulator, how: str
) -> None:
    x, y = shared.urn("x"), shared.urn("y")
    shared.set_clusters([entry("y", ANALYTICS, users=["heidi", "ivan"])])

    shared.up(*(["--target", x] if how == "target" else ["--exclude", y]))

    assert emulator.synced(ANALYTICS)[0] == {"heidi", "ivan"}
    assert cancel_tasks(emulator, ANALYTICS) == []


def test_a_full_up_removing_both_cancels_each_principal_exactly_once(
    shared: Project, emulator: Emulator
) -> None:
    shared.set_clusters([])
    shared.up()

    assert emulator.synced(ANALYTICS)[0] == set()
    cancelled = [user for users, _ in cancel_tasks(emulator, ANALYTICS) for user in users]
    assert sorted(cancelled) == ["heidi", "ivan"]


# -- full sync ------------------------------------------------------------------------------------


def test_a_live_full_sync_keeps_a_group_another_resource_stops_declaring(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("d", ANALYTICS, is_all_sync=True), entry("c", ANALYTICS, groups=["ops"])])
    project.up()
    assert "ops" in emulator.synced(ANALYTICS)[1]

    project.set_clusters([entry("d", ANALYTICS, is_all_sync=True)])
    project.up()

    assert "ops" in emulator.synced(ANALYTICS)[1]
    assert cancel_tasks(emulator, ANALYTICS) == []


def test_a_full_sync_whose_principals_went_missing_shows_as_drift_and_up_brings_them_back(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("d", ANALYTICS, is_all_sync=True)])
    project.up()
    users, groups = emulator.synced(ANALYTICS)
    emulator.patch_cluster(ANALYTICS, synced_groups=sorted(groups - {"ops"}))

    project.refresh()
    assert project.preview("--expect-no-changes", check=False).returncode != 0
    project.up()

    assert emulator.synced(ANALYTICS) == (users, groups)


def test_switching_full_sync_on_cancels_nothing(project: Project, emulator: Emulator) -> None:
    project.set_clusters([entry("r2", ANALYTICS, users=["grace"], groups=["guests"])])
    project.up()

    project.set_clusters([entry("r2", ANALYTICS, is_all_sync=True)])
    project.up()

    assert cancel_tasks(emulator, ANALYTICS) == []
    users, groups = emulator.synced(ANALYTICS)
    assert "grace" in users and "guests" in groups
