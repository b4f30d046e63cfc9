"""Many resources on few clusters: one task at a time per cluster, shared by the resources waiting.

The emulator refuses a task while another runs on the same cluster (409 MRS.0409, its
default), and the engine runs the 20 creates (and deletes) concurrently, so any overlap
the provider let through would show in the request log. The provider merges what the
resources of one cluster ask for into rounds, so a cluster sees fewer tasks than resources.
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


def task_kinds(emulator: Emulator, cluster_id: str) -> list[str]:
    return [task["kind"] for task in emulator.tasks(cluster_id)]


@pytest.mark.parametrize(
    ("parallel", "most_rounds"), [(None, 4), ("32", 2)], ids=["default-parallel", "parallel-32"]
)
def test_twenty_resources_on_five_clusters_converge_in_one_up_and_one_destroy_without_overlapping_tasks(
    project: Project, emulator: Emulator, parallel: str | None, most_rounds: int
) -> None:
    flags = ("--parallel", parallel) if parallel else ()
    project.set_clusters(declared())

    project.up(*flags)

    for cluster_id in CLUSTERS:
        assert emulator.synced(cluster_id) == (set(USERS), set(GROUPS)), cluster_id
        assert 1 <= len(task_kinds(emulator, cluster_id)) <= most_rounds, task_kinds(emulator, cluster_id)
        assert set(task_kinds(emulator, cluster_id)) == {"sync"}
    synced = project.outputs()["synced"]
    assert len(synced) == 20
    assert all(output["complete"] for output in synced.values())
    assert {name: output["cluster_id"] for name, output in synced.items()} == {
        item["name"]: item["cluster_id"] for item in declared()
    }
    assert {status for _, _, status in emulator.writes()} == {202}
    syncs = len(emulator.writes())
    assert syncs == sum(len(task_kinds(emulator, cluster_id)) for cluster_id in CLUSTERS)

    project.destroy(*flags)

    for cluster_id in CLUSTERS:
        assert emulator.synced(cluster_id) == (set(), set()), cluster_id
        cancels = task_kinds(emulator, cluster_id).count("cancel")
        assert 1 <= cancels <= most_rounds, task_kinds(emulator, cluster_id)
    writes = Counter(method for method, _, status in emulator.writes() if status == 202)
    assert writes["POST"] == syncs and writes["DELETE"] <= 5 * most_rounds, writes
    assert [item for item in emulator.log() if item["status"] != 200 and item["method"] == "GET"] == []
    assert [item for item in emulator.log() if item["error_code"] is not None] == []
    assert project.resources() == {}
