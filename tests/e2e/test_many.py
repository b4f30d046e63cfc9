"""Many resources on few clusters: the provider serializes the tasks of each cluster.

The emulator refuses a task while another runs on the same cluster (409 MRS.0409, its
default), and the engine runs the 20 creates (and deletes) concurrently, so any overlap
the provider let through would show in the request log.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .harness import ANALYTICS, ARCHIVE, REPORTING, SPARE, STREAMING, Emulator, Project, entry

pytestmark = pytest.mark.e2e

CLUSTERS = (ANALYTICS, STREAMING, REPORTING, ARCHIVE, SPARE)
# Users without IAM groups, so that each cluster's synced set is exactly what was declared.
USERS = ("frank", "heidi", "ivan", "judy")
GROUPS = ("ops", "guests", "auditors", "analysts")


def declared() -> list[dict[str, object]]:
    """Four resources per cluster, each owning one user and one group there."""
    return [
        entry(f"{cluster_id[4:-5]}-{index}", cluster_id, users=[user], groups=[group], timeout_seconds=120)
        for cluster_id in CLUSTERS
        for index, (user, group) in enumerate(zip(USERS, GROUPS, strict=True))
    ]


def test_twenty_resources_on_five_clusters_converge_in_one_up_and_one_destroy_without_overlapping_tasks(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters(declared())

    project.up()

    for cluster_id in CLUSTERS:
        assert emulator.synced(cluster_id) == (set(USERS), set(GROUPS)), cluster_id
        assert [task["kind"] for task in emulator.tasks(cluster_id)] == ["sync"] * 4, cluster_id
    synced = project.outputs()["synced"]
    assert len(synced) == 20
    assert all(output["complete"] for output in synced.values())
    assert {name: output["cluster_id"] for name, output in synced.items()} == {
        item["name"]: item["cluster_id"] for item in declared()
    }
    assert Counter(emulator.writes()) == {("POST", cluster_id, 202): 4 for cluster_id in CLUSTERS}

    project.destroy()

    for cluster_id in CLUSTERS:
        assert emulator.synced(cluster_id) == (set(), set()), cluster_id
    assert Counter(method for method, _, status in emulator.writes() if status == 202) == {
        "POST": 20,
        "DELETE": 20,
    }
    assert [item for item in emulator.log() if item["status"] != 200 and item["method"] == "GET"] == []
    assert [item for item in emulator.log() if item["error_code"] is not None] == []
    assert project.resources() == {}
