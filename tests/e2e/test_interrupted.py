"""A ``pulumi up`` that dies while a sync task runs on the cluster, and the way back.

Tasks last 3 s here, so the interruption lands after the API accepted the sync and
while the provider waits for it to finish.
"""

from __future__ import annotations

import pytest

from .harness import ANALYTICS, TRACEBACK, Emulator, Project, Running, entry

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("sync_seconds", [3.0])]

URN_SUFFIX = "mrs:ClusterIamSync::analytics"


def pending_operations(project: Project) -> list[tuple[str, str]]:
    deployment = project.export()["deployment"]
    return [(item["type"], item["resource"]["urn"]) for item in deployment.get("pending_operations") or []]


def up_until_the_sync_is_accepted(project: Project, emulator: Emulator) -> Running:
    """``pulumi up`` of heidi and guests on analytics in the background, once the API accepted the sync."""
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"], groups=["guests"])])
    running = project.popen("up", "--yes", "--skip-preview", "--non-interactive")
    emulator.wait_for_request("POST", 202)
    return running


def test_a_killed_up_leaves_a_reported_pending_create_and_after_refresh_the_next_up_adopts_the_sync(
    project: Project, emulator: Emulator
) -> None:
    running = up_until_the_sync_is_accepted(project, emulator)

    running.kill_everything()
    running.wait(timeout=30)

    [(kind, urn)] = pending_operations(project)
    assert kind == "creating" and urn.endswith(URN_SUFFIX)
    locked = project.refresh(check=False)
    assert locked.returncode != 0 and "pulumi cancel" in locked.stderr, locked
    project.run("cancel", "--yes")
    project.refresh("--clear-pending-creates")
    assert pending_operations(project) == []
    emulator.wait_until_idle(ANALYTICS)
    emulator.clear_log()
    project.up()

    assert emulator.synced(ANALYTICS) == ({"heidi"}, {"guests"})
    assert [task["kind"] for task in emulator.tasks(ANALYTICS)] == ["sync"]
    assert emulator.writes() == []
    assert project.outputs()["synced"]["analytics"] == {
        "cluster_id": ANALYTICS,
        "users": ["heidi"],
        "groups": ["guests"],
        "complete": True,
    }
    assert pending_operations(project) == []
    assert project.preview("--expect-no-changes", check=False).returncode == 0


def test_ctrl_c_during_up_waits_for_the_running_sync_and_records_it_so_the_next_up_has_nothing_to_do(
    project: Project, emulator: Emulator
) -> None:
    running = up_until_the_sync_is_accepted(project, emulator)

    running.interrupt()
    returncode = running.wait(timeout=60)

    output = running.log_text()
    assert returncode != 0 and "update canceled" in output, output
    assert TRACEBACK not in output, output
    assert pending_operations(project) == [], output
    assert project.resources()["analytics"]["outputs"]["synced_user_names"] == ["heidi"]
    emulator.clear_log()
    project.refresh()
    project.up()

    assert emulator.writes() == []
    assert emulator.synced(ANALYTICS) == ({"heidi"}, {"guests"})
    assert [task["kind"] for task in emulator.tasks(ANALYTICS)] == ["sync"]
    assert project.preview("--expect-no-changes", check=False).returncode == 0


def test_a_killed_up_of_a_coalesced_task_is_adopted_whole_by_the_next_up(
    project: Project, emulator: Emulator
) -> None:
    names = ("first", "second", "third")
    users = ("heidi", "ivan", "judy")
    project.set_clusters(
        [entry(name, ANALYTICS, users=[user]) for name, user in zip(names, users, strict=True)]
    )
    running = project.popen("up", "--yes", "--skip-preview", "--non-interactive", "--parallel", "8")
    emulator.wait_for_request("POST", 202)

    running.kill_everything()
    running.wait(timeout=30)

    # However the engine's calls fell into rounds (wall time decides that), the killed CLI recorded
    # none of what its tasks started.
    killed_run = emulator.tasks(ANALYTICS)
    synced_by_killed_run = {user for task in killed_run for user in task["users"]}
    assert killed_run and {task["kind"] for task in killed_run} == {"sync"}
    assert {kind for kind, _ in pending_operations(project)} == {"creating"}
    project.run("cancel", "--yes")
    project.refresh("--clear-pending-creates")
    emulator.wait_until_idle(ANALYTICS)
    emulator.clear_log()
    project.up()

    # What the killed run synced is adopted, never sent again; only what it never reached is synced now.
    next_run = emulator.tasks(ANALYTICS)[len(killed_run) :]
    assert {task["kind"] for task in next_run} <= {"sync"}
    assert not synced_by_killed_run & {user for task in next_run for user in task["users"]}
    assert emulator.synced(ANALYTICS) == (set(users), set())
    assert sorted(project.resources()) == sorted(names)
    assert project.preview("--expect-no-changes", check=False).returncode == 0
