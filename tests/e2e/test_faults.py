"""An unreliable API: the stack converges through throttling, server errors and latency, and an
API that is down for good fails ``pulumi up`` cleanly, leaving a state the next ``up`` repairs.

"Nothing duplicated" is read off the emulator's task history: every accepted POST or DELETE
starts exactly one task, so a request sent twice shows up as an extra task. A sync or cancel whose
answer was lost and whose effect the cluster cannot show fails its operation instead of being sent
again, so converging may take another ``up``: that is the price of never starting a task twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from .harness import ANALYTICS, STREAMING, TRACEBACK, CliResult, Emulator, Project, assert_failed, entry

pytestmark = pytest.mark.e2e


OUTCOME_UNKNOWN = "It was not sent again, so that no second task can start"


def until_converged(command: Callable[[], CliResult], attempts: int = 6) -> None:
    """Run a CLI command again while it fails only because a write's outcome could not be known."""
    for _ in range(attempts):
        result = command()
        if result.returncode == 0:
            return
        assert OUTCOME_UNKNOWN in result.stdout, result
        assert TRACEBACK not in result.output, result
    raise AssertionError(f"still failing after {attempts} attempts:\n{result}")


def task_kinds(emulator: Emulator, cluster_id: str) -> list[str]:
    return [task["kind"] for task in emulator.tasks(cluster_id)]


def assert_consistent_state(project: Project) -> None:
    """The state file parses and holds no half-done operation."""
    deployment = project.export()["deployment"]
    assert not deployment.get("pending_operations"), deployment.get("pending_operations")


@pytest.fixture
def flaky_api(emulator: Emulator) -> Emulator:
    """About 30% of API requests fail (429, 500 before the operation, 503 after it), many are slow."""
    emulator.add_fault(kind="latency", rate=0.3, latency_seconds=0.05, seed=11)
    emulator.add_fault(kind="throttle", rate=0.1, seed=12)
    emulator.add_fault(kind="server_error", status=500, rate=0.1, phase="before", seed=23)
    emulator.add_fault(kind="server_error", status=503, rate=0.12, phase="after", seed=14)
    return emulator


def test_up_update_and_destroy_converge_through_throttling_server_errors_and_latency(
    project: Project, flaky_api: Emulator
) -> None:
    project.set_config({"huaweicloud:max_retries": 10})
    project.set_clusters(
        [
            entry("analytics", ANALYTICS, users=["heidi", "ivan"], groups=["guests"]),
            entry("streaming", STREAMING, users=["judy"], groups=["auditors"]),
        ]
    )

    until_converged(lambda: project.up(check=False))
    assert flaky_api.synced(ANALYTICS) == ({"heidi", "ivan"}, {"guests"})
    assert flaky_api.synced(STREAMING) == ({"judy"}, {"auditors"})

    project.set_clusters(
        [
            entry("analytics", ANALYTICS, users=["heidi", "ivan", "frank"]),
            entry("streaming", STREAMING, users=["judy"], groups=["auditors"]),
        ]
    )
    until_converged(lambda: project.up(check=False))
    assert flaky_api.synced(ANALYTICS) == ({"heidi", "ivan", "frank"}, set())
    assert project.outputs()["synced"]["analytics"]["users"] == ["frank", "heidi", "ivan"]

    until_converged(lambda: project.destroy(check=False))
    assert flaky_api.synced(ANALYTICS) == (set(), set())
    assert flaky_api.synced(STREAMING) == (set(), set())

    # Retries never start a task twice (how calls fell into rounds is wall time's business).
    for cluster_id in (ANALYTICS, STREAMING):
        started = [
            (task["kind"], tuple(task["users"]), tuple(task["groups"]))
            for task in flaky_api.tasks(cluster_id)
        ]
        assert len(started) == len(set(started)), started
        assert {kind for kind, _, _ in started} == {"sync", "cancel"}, started
    log = flaky_api.log()
    statuses = Counter(item["status"] for item in log)
    assert statuses[429] > 0 and statuses[500] > 0 and statuses[503] > 0, statuses
    faulted = sum(1 for item in log if item["fault"] is not None)
    assert faulted >= 0.2 * len(log), statuses
    assert_consistent_state(project)
    assert project.resources() == {}


def drop_every_request(emulator: Emulator) -> Callable[[], None]:
    emulator.add_fault(kind="drop")
    return emulator.clear_faults


def stop_the_emulator(emulator: Emulator) -> Callable[[], None]:
    emulator.stop()
    return emulator.restart


@pytest.mark.parametrize("outage", [drop_every_request, stop_the_emulator], ids=["dropped", "refused"])
def test_up_against_an_api_that_is_down_fails_within_its_timeout_and_the_next_up_converges(
    project: Project, emulator: Emulator, outage: Callable[[Emulator], Callable[[], None]]
) -> None:
    project.set_config({"huaweicloud:max_retries": 1})
    project.set_clusters(
        [entry("analytics", ANALYTICS, users=["heidi"], groups=["guests"], timeout_seconds=5)]
    )
    recover = outage(emulator)

    failed: CliResult = project.up(check=False)

    assert_failed(
        failed, f"syncing IAM principals on cluster {ANALYTICS} failed: could not get an answer from"
    )
    assert failed.seconds < 5 + 15, failed
    assert_consistent_state(project)
    assert project.resources() == {}

    recover()
    project.up()

    assert emulator.synced(ANALYTICS) == ({"heidi"}, {"guests"})
    assert project.preview("--expect-no-changes", check=False).returncode == 0
    assert_consistent_state(project)


@pytest.mark.parametrize("sync_seconds", [2.0])
def test_an_api_that_goes_away_while_its_sync_runs_fails_up_and_the_next_up_adopts_that_sync(
    project: Project, emulator: Emulator
) -> None:
    project.set_config({"huaweicloud:max_retries": 1})
    project.set_clusters(
        [entry("analytics", ANALYTICS, users=["heidi"], groups=["guests"], timeout_seconds=30)]
    )
    running = project.popen("up", "--yes", "--skip-preview", "--non-interactive")
    emulator.wait_for_request("POST", 202)
    emulator.stop()

    failed = running.wait(timeout=120)

    output = running.log_text()
    assert failed != 0, output
    assert f"on cluster {ANALYTICS} failed: could not get an answer from" in output, output
    assert TRACEBACK not in output, output
    assert_consistent_state(project)
    assert project.resources() == {}

    emulator.restart()
    emulator.wait_until_idle(ANALYTICS)
    project.up()

    assert emulator.synced(ANALYTICS) == ({"heidi"}, {"guests"})
    assert task_kinds(emulator, ANALYTICS) == ["sync"]
    assert emulator.writes() == []
    assert project.outputs()["synced"]["analytics"]["users"] == ["heidi"]
