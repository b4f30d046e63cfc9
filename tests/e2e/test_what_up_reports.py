"""What `pulumi up` reports is what happened on the cluster: the ways it used not to, through the real CLI.

* a replacement that lands on the same cluster, and a principal declared by two resources or moving
  between them, never revokes access a live resource still declares;
* only MRS's own "no such cluster" answer makes refresh forget a resource or destroy skip it;
* a timed-out create takes back what it started, and a write whose answer was lost is not sent twice.

Every claim is read off the emulator: its synced sets, its task history (each accepted POST or
DELETE starts exactly one task) and its request log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .harness import ANALYTICS, STREAMING, Emulator, Project, assert_failed, entry

pytestmark = pytest.mark.e2e



def cancelled_users(emulator: Emulator, cluster_id: str) -> list[str]:
    return [user for task in emulator.tasks(cluster_id) if task["kind"] == "cancel" for user in task["users"]]


def deletes(emulator: Emulator) -> list[tuple[str, str, int | None]]:
    return [write for write in emulator.writes() if write[0] == "DELETE"]


# -- 1. a replacement on the same cluster ------------------------------------------------------------


def test_up_replace_keeps_the_declared_principals_and_sends_no_delete(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi", "ivan"])])
    project.up()
    emulator.clear_log()

    result = project.up("--replace", project.urn("analytics"))

    assert "+-1 replaced" in result.stdout or "1 replaced" in result.stdout, result
    assert emulator.synced(ANALYTICS) == ({"heidi", "ivan"}, set())
    assert deletes(emulator) == []
    assert cancelled_users(emulator, ANALYTICS) == []
    assert project.preview("--expect-no-changes", check=False).returncode == 0


def test_a_region_change_with_a_pinned_endpoint_replaces_without_revoking(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi", "ivan"])])
    project.up()
    emulator.clear_log()
    project.set_config({"huaweicloud:region": "cn-east-3"})

    project.up()

    assert project.resources()["analytics"]["outputs"]["region"] == "cn-east-3"
    assert emulator.synced(ANALYTICS) == ({"heidi", "ivan"}, set())
    assert deletes(emulator) == []
    assert cancelled_users(emulator, ANALYTICS) == []


# -- 3. one principal, two resources ------------------------------------------------------------------


def test_removing_one_of_two_resources_declaring_a_user_leaves_her_synced(
    project: Project, emulator: Emulator
) -> None:
    first, second = entry("first", ANALYTICS, users=["heidi", "ivan"]), entry("second", ANALYTICS, users=["heidi"])
    project.set_clusters([first, second])
    project.up()

    project.set_clusters([second])
    result = project.up()

    assert emulator.synced(ANALYTICS) == ({"heidi"}, set())
    assert cancelled_users(emulator, ANALYTICS) == ["ivan"]
    assert f"heidi stay synced on cluster {ANALYTICS}: another resource of this stack" in result.output
    assert project.preview("--expect-no-changes", check=False).returncode == 0


def test_moving_a_user_between_resources_in_one_up_keeps_her_synced_throughout(
    project: Project, emulator: Emulator
) -> None:
    # The giver comes first in the program, so the engine may start its update before diffing the taker.
    project.set_clusters(
        [
            entry("giver", ANALYTICS, users=["heidi", "ivan"]),
            entry("taker", ANALYTICS, users=["judy"]),
        ]
    )
    project.up()

    project.set_clusters(
        [
            entry("giver", ANALYTICS, users=["ivan"]),
            entry("taker", ANALYTICS, users=["judy", "heidi"]),
        ]
    )
    project.up()

    assert emulator.synced(ANALYTICS) == ({"heidi", "ivan", "judy"}, set())
    assert "heidi" not in cancelled_users(emulator, ANALYTICS)
    resources = project.resources()
    assert resources["giver"]["outputs"]["user_names"] == ["ivan"]
    assert resources["taker"]["outputs"]["user_names"] == ["heidi", "judy"]


# -- 2. only MRS says a cluster is gone ---------------------------------------------------------------


class _NotFoundEverywhere(BaseHTTPRequestHandler):
    """A plain web server: whatever is asked, an HTML 404, as a wrong host or a proxy answers."""

    def _answer(self) -> None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def plain_web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFoundEverywhere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_plain_404_web_server_fails_refresh_and_destroy_naming_it_and_nothing_is_forgotten(
    project: Project, emulator: Emulator, plain_web_server: str
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"])])
    project.up()
    # A typo in the endpoint: the next `up` changes nothing, but stores the new provider config
    # that refresh and destroy will use.
    project.set_config({"huaweicloud:endpoints": {"mrs": plain_web_server}})
    project.up()

    refreshed = project.refresh(check=False)
    destroyed = project.destroy(check=False)

    for result in (refreshed, destroyed):
        assert_failed(result, f"GET {plain_web_server}/v2/", "the endpoint did not answer like the MRS API: 404")
    assert set(project.resources()) == {"analytics"}
    assert emulator.synced(ANALYTICS) == ({"heidi"}, set())

    project.set_config({"huaweicloud:endpoints": {"mrs": emulator.url}})
    project.up()
    project.destroy()
    assert emulator.synced(ANALYTICS) == (set(), set())


@pytest.mark.parametrize(
    ("missing_cluster_status", "missing_cluster_code"), [(400, "12000003"), (404, "0023")]
)
def test_a_cluster_that_really_was_deleted_still_lets_destroy_succeed(
    project: Project, emulator: Emulator, missing_cluster_status: int, missing_cluster_code: str
) -> None:
    emulator.update_settings(
        missing_cluster_status=missing_cluster_status, missing_cluster_code=missing_cluster_code
    )
    project.set_clusters(
        [entry("analytics", ANALYTICS, users=["heidi"]), entry("streaming", STREAMING, users=["ivan"])]
    )
    project.up()
    emulator.delete_cluster(ANALYTICS)

    project.destroy()

    assert project.resources() == {}
    assert emulator.synced(STREAMING) == (set(), set())


# -- 4. timeouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sync_seconds", [4.0])
def test_a_create_that_times_out_leaves_nothing_synced_outside_the_state(
    project: Project, emulator: Emulator
) -> None:
    project.set_clusters([entry("analytics", ANALYTICS, users=["heidi"], timeout_seconds=1)])

    result = project.up(check=False)

    assert_failed(
        result,
        f"the sync task on cluster {ANALYTICS} was still running after",
        "The principals this run did sync (heidi) were cancelled again",
    )
    assert "could not get an answer" not in result.stdout, result
    assert project.resources() == {}
    emulator.wait_until_idle(ANALYTICS)
    assert emulator.synced(ANALYTICS) == (set(), set())
    assert [task["kind"] for task in emulator.tasks(ANALYTICS)] == ["sync", "cancel"]


# -- 5. a lost answer -------------------------------------------------------------------------------


@pytest.mark.parametrize("users", [["dave"], ["dave", "heidi"]], ids=["only-policy-less", "with-a-good-user"])
def test_a_lost_answer_with_a_policy_less_user_starts_one_task_not_two(
    project: Project, emulator: Emulator, users: list[str]
) -> None:
    emulator.add_fault(kind="drop", phase="after", methods=["POST"], count=1)
    project.set_clusters([entry("analytics", ANALYTICS, users=users)])

    result = project.up(check=False)

    assert_failed(result)
    assert [write[0] for write in emulator.writes()].count("POST") == 1
    assert [task["kind"] for task in emulator.tasks(ANALYTICS)].count("sync") == 1
    emulator.wait_until_idle(ANALYTICS)
    assert emulator.synced(ANALYTICS) == (set(), set())
    assert project.resources() == {}
