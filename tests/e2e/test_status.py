"""While a call waits for its cluster's task, ``pulumi up`` says so next to the resource.

The provider reads the resource's URN from Pulumi's dynamic-provider server and sends its status
to the engine over a channel of its own; the CLI's non-interactive display (what CI logs show)
prints the resource's row again with each status.
"""

from __future__ import annotations

import pytest

from .harness import ANALYTICS, Emulator, Project, entry

pytestmark = pytest.mark.e2e


@pytest.fixture
def sync_seconds() -> float:
    """Long enough for a status (none is sent for waits of a few seconds)."""
    return 8.0


def test_up_shows_which_cluster_task_a_resource_waits_for_while_it_runs(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["frank"])])

    result = project.up()

    status = f"waiting for the sync task on cluster {ANALYTICS}: running"
    rows = [line for line in result.stdout.splitlines() if status in line]
    assert rows, result
    assert all("analytics" in row for row in rows), rows
    # Shown while it runs; the row that reports the create done may still carry it, when the empty
    # status that clears it reaches the display just after.
    assert any("creating" in row for row in rows), rows
    assert emulator.synced(ANALYTICS) == ({"frank"}, set())
